"""The only place alignbench touches Hydra's private API (hydra._internal): the few things its public plugin API does
not offer. tests/sweep/test_plugin.py pins the Hydra version and checks every name used here, so an upgrade
fails there, with one message, rather than deep inside a sweep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Modules, not their classes: Hydra's plugin scan re-executes its core plugins' modules in place, so a class bound
# before the scan would be a stale copy (isinstance fails on the launcher Hydra instantiates from the new one).
from hydra._internal import config_loader_impl
from hydra._internal.core_plugins import basic_launcher, basic_sweeper
from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.types import Override
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig


def expand(overrides: list[Override]) -> list[list[str]]:
    """Every job of a sweep's overrides (`a=1,2 b=x,y` -> 4 jobs), exactly as Hydra's basic sweeper expands them."""
    return basic_sweeper.BasicSweeper.split_arguments(overrides, max_batch_size=None)[0]


def apply_values(values: list[Override], config: DictConfig) -> None:
    """Apply value overrides (`seed=3`, `+x=1`, `~y`) to a composed config, with Hydra's own function and order."""
    config_loader_impl.ConfigLoaderImpl._apply_overrides_to_config(values, config)


def is_group(config_loader: ConfigLoader, override: Override) -> bool:
    """Hydra's own rule (hydra._internal.defaults_list.Overrides): a group name without a dict value."""
    repository = config_loader.repository  # type: ignore[attr-defined]  # ConfigLoaderImpl's, not the interface's
    return repository.group_exists(override.key_or_group) and not isinstance(override.value(), dict)


def wrap_in_process(launcher: Launcher, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> bool:
    """Wrap the task function of a launcher that runs the jobs one after the other in this process (Hydra's basic
    launcher), and say whether it did; other launchers (joblib, submitit) run it elsewhere."""
    if not isinstance(launcher, basic_launcher.BasicLauncher) or launcher.task_function is None:
        return False
    launcher.task_function = wrap(launcher.task_function)
    return True
