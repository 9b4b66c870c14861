"""The grid sweeper: Hydra's basic sweeper (same `a=x,y` syntax, sweeps in files under `hydra.sweeper.params`) made
resumable, with a run directory `<sweep dir>/<run_key>` per job and `dry_run=true` printing the plan; the work is in
alignbench/sweep/ (launch.sweep).

Hydra instantiates sweepers only from the `hydra_plugins` package, and imports every module under it whenever any
Hydra app starts: this one imports alignbench only inside its methods. (No `from __future__ import annotations`:
Hydra execs plugin modules outside sys.modules, where dataclasses cannot resolve them.)
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class GridSweeperConf:
    _target_: str = "hydra_plugins.alignbench_grid.grid_sweeper.GridSweeper"
    max_batch_size: Optional[int] = None  # launch this many jobs at a time (e.g. to cap a SLURM array)
    params: Optional[Dict[str, str]] = None
    # A union of grids: each entry adds its own axes to `params` (e.g. ranks that differ per method).
    grids: Optional[List[Dict[str, str]]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="alignbench")


class GridSweeper(Sweeper):
    def __init__(
        self,
        max_batch_size: Optional[int] = None,
        params: Optional[Dict[str, str]] = None,
        grids: Optional[List[Dict[str, str]]] = None,
    ) -> None:
        self.max_batch_size, self.params = max_batch_size, dict(params or {})
        self.grids = [dict(grid) for grid in grids] if grids else [{}]
        self.hydra_context = self.config = self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: List[str]) -> Any:
        from alignbench.sweep.launch import sweep

        assert self.config is not None and self.hydra_context is not None and self.launcher is not None
        loader = self.hydra_context.config_loader
        return sweep(self.config, loader, self.launcher, self.params, self.grids, list(arguments), self.max_batch_size)
