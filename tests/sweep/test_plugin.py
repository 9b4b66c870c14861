"""The grid sweeper as a Hydra plugin: cheap to discover, its private Hydra calls pinned to one Hydra version, and
Hydra's own sweeper tests where they apply to it.

Hydra ships test suites for plugins (hydra.test_utils.launcher_common_tests); none runs here unchanged, for these
reasons, and what applies of them is adapted below:
- LauncherTestSuite and IntegrationTestSuite test a Launcher plugin: alignbench ships none (it uses Hydra's basic,
  joblib and submitit launchers, which Hydra tests with these suites), and they run Hydra's own test app with
  Hydra's basic sweeper.
- BatchedSweeperTestSuite runs a sweeper over Hydra's test app (foo/bar in hydra/test_utils/configs) and expects
  the JobReturns of each batch back and job folders 0..5. The grid sweeper composes alignbench's config (it reads
  `sweep.*` and `dry_run`, and keys runs with alignbench's schema), names each job's folder by its run_key and
  prints a summary instead of returning JobReturns. Its test_sweep_2_jobs_2_batches is adapted to that below.
- Hydra's unit test of the basic sweeper's override splitting (tests/test_basic_sweeper.py in Hydra's repository,
  not installed) is the table of test_sweep_syntax_is_hydras; its batching cases do not apply as they stand (the grid
  sweeper batches the runs still to do, not every job): the adapted suite test checks batches.
"""

from __future__ import annotations

import inspect
import logging
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

HEAVY = ("torch", "pandas", "transformers", "datasets", "peft", "trl")
# What alignbench/sweep/hydra_private.py uses of Hydra's private API -> the parameters it calls it with.
PRIVATE = {
    "hydra._internal.core_plugins.basic_sweeper:BasicSweeper.split_arguments": ["overrides", "max_batch_size"],
    "hydra._internal.config_loader_impl:ConfigLoaderImpl._apply_overrides_to_config": ["overrides", "cfg"],
    "hydra._internal.config_repository:IConfigRepository.group_exists": ["self", "config_path"],
    "hydra._internal.core_plugins.basic_launcher:BasicLauncher": [],
}


def test_discovering_the_plugin_imports_nothing_heavy():
    """Hydra imports every module under hydra_plugins/ whenever any Hydra app in the environment starts."""
    code = "import sys, hydra_plugins.alignbench_grid.grid_sweeper; print(*{m.split('.')[0] for m in sys.modules})"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert not set(loaded.stdout.split()) & {*HEAVY, "alignbench"}


def test_the_private_hydra_api_the_sweeper_uses_is_that_of_the_pinned_hydra():
    import hydra

    pinned = re.search(r'"hydra-core==([^"]+)"', (REPO / "pyproject.toml").read_text())[1]
    changed = []
    for name, parameters in PRIVATE.items():
        try:
            found = pkgutil.resolve_name(name)
        except (ImportError, AttributeError) as err:
            changed.append(f"{name} is gone ({err})")
            continue
        if list(inspect.signature(found).parameters) != parameters:
            changed.append(f"{name}{inspect.signature(found)} is not called as ({', '.join(parameters)})")
    launcher = pkgutil.resolve_name(next(name for name in PRIVATE if name.endswith(":BasicLauncher")))()
    if not hasattr(launcher, "task_function"):
        changed.append("BasicLauncher has no task_function to wrap")
    assert hydra.__version__ == pinned and not changed, (
        f"hydra-core {hydra.__version__} is installed and pyproject.toml pins {pinned}; alignbench/sweep/"
        f"hydra_private.py uses Hydra's private API, which changed: {changed or 'not that this test sees'}. Adapt that "
        "module (and PRIVATE here) to the installed Hydra, then move the pin."
    )


@pytest.mark.parametrize(
    "args, expected",
    [  # Hydra's test_split (tests/test_basic_sweeper.py), without its batching cases (see the module docstring)
        (["x=10"], [["x=10"]]),
        (["x=10,20"], [["x=10"], ["x=20"]]),
        (["x=[10,20]"], [["x=[10,20]"]]),
        (["x=[a,b,c],[d,e,f]"], [["x=[a,b,c]"], ["x=[d,e,f]"]]),
        (["a=1,2", "b=10,11"], [["a=1", "b=10"], ["a=1", "b=11"], ["a=2", "b=10"], ["a=2", "b=11"]]),
        (["a=range(0,3)"], [["a=0"], ["a=1"], ["a=2"]]),
    ],
)
def test_sweep_syntax_is_hydras(args, expected):
    from alignbench.sweep.plan import combinations

    assert combinations(OverridesParser.create(), {}, [{}], args) == expected


def test_a_union_of_grids_adds_each_grids_axes_to_params_and_the_command_line_wins():
    from alignbench.sweep.plan import combinations

    grids = [{"b": "x"}, {"b": "y,z", "c": "1"}]
    assert combinations(OverridesParser.create(), {"a": "1,2"}, grids, ["a=3"]) == [
        ["a=3", "b=x"],
        ["a=3", "b=y", "c=1"],
        ["a=3", "b=z", "c=1"],
    ]


@pytest.fixture
def logging_restored():
    """Hydra's launcher configures logging for each job (conf/hydra/job_logging): the tests after this one get theirs
    back, without handlers on a deleted folder or a closed capture."""

    def loggers():
        named = logging.Logger.manager.loggerDict.values()
        return [logging.getLogger(), *(logger for logger in named if isinstance(logger, logging.Logger))]

    saved = {logger: (logger.handlers[:], logger.level, logger.propagate, logger.disabled) for logger in loggers()}
    yield
    for logger in loggers():
        handlers, level, logger.propagate, logger.disabled = saved.get(logger, ([], logging.NOTSET, True, False))
        for handler in set(logger.handlers) - set(handlers):
            handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.mark.usefixtures("hydra_restore_singletons", "logging_restored")
def test_sweep_2_jobs_2_batches_in_run_key_folders(hydra_sweep_runner, tmp_path, monkeypatch, capsys):
    """Hydra's BatchedSweeperTestSuite.test_sweep_2_jobs_2_batches on alignbench's config, in this process with a
    stand-in task (2 jobs of one each, not 6 of two: each composes alignbench's config): batches of `max_batch_size`,
    each job composed with its overrides (a group, a value) in its own `<sweep dir>/<run_key>`, a line as each ends."""
    from hydra._internal.core_plugins import basic_launcher
    from hydra.core.plugins import Plugins

    from alignbench.config.schema import register_configs
    from alignbench.runs.keys import resolve, run_key

    register_configs()
    Plugins.instance()  # scanned now, not inside the sweep: the scan re-executes basic_launcher, spied on below
    batches, jobs = [], []
    launch = basic_launcher.BasicLauncher.launch

    def spy(self, job_overrides, initial_job_idx):
        batches.append(len(job_overrides))
        return launch(self, job_overrides, initial_job_idx)

    def task(cfg):
        hydra = HydraConfig.get()
        jobs.append((list(hydra.overrides.task), cfg.method.name, cfg.seed, Path(hydra.runtime.output_dir)))
        assert Path(hydra.runtime.output_dir).name == run_key(resolve(cfg))
        return {"status": "completed"}

    monkeypatch.setattr(basic_launcher.BasicLauncher, "launch", spy)
    job_overrides = ["method=sft,dpo", "seed=1"]
    sweep = hydra_sweep_runner(
        calling_file=str(REPO / "alignbench" / "__main__.py"),
        calling_module=None,
        task_function=task,
        config_path="conf",
        config_name="config",
        overrides=[*job_overrides, "hydra.sweeper.max_batch_size=1"],
        temp_dir=tmp_path / "sweep",
    )
    with sweep:
        assert OmegaConf.load(tmp_path / "sweep" / "multirun.yaml").hydra.overrides.task == job_overrides
        assert sweep.returns == []  # the grid sweeper summarises instead
        assert batches == [1, 1]
        expected = [("sft", 1), ("dpo", 1)]
        assert [overrides for overrides, *_ in jobs] == [[f"method={m}", f"seed={s}"] for m, s in expected]
        assert [(method, seed) for _, method, seed, _ in jobs] == expected
        folders = {folder for *_, folder in jobs}
        assert len(folders) == 2 and {folder.parent for folder in folders} == {tmp_path / "sweep"}
        assert all((folder / ".hydra" / "overrides.yaml").exists() for folder in folders)
    progress = [line for line in capsys.readouterr().out.splitlines() if line.startswith("sweep adhoc: job")]
    assert [line.split(" done")[0] for line in progress] == ["sweep adhoc: job 1/2", "sweep adhoc: job 2/2"]
