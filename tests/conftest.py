"""Shared fixtures: offline Hugging Face, a per-session tiny-model cache, and Hydra composition of conf/."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import helpers
import pytest
from helpers import CONF

LAUNCHERS = (helpers.alignbench, helpers.launch, helpers.start)
TESTS = Path(__file__).resolve().parent

# Tests never reach a hub: a missing file must fail at once, not after a retry loop.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one thread each (set before torch loads)
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory) -> Path:
    """One cache of tiny models for the whole session (subprocesses inherit it through the environment)."""
    cache = Path(os.environ.get("ALIGNBENCH_TEST_CACHE") or tmp_path_factory.mktemp("cache"))
    os.environ["ALIGNBENCH_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def compose():
    """compose(["method=sft", ...]) -> the DictConfig that `python -m alignbench ...` would run."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from alignbench.config.schema import register_configs

    register_configs()

    def _compose(overrides: list[str] | None = None):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return hydra_compose("config", overrides=overrides or [], return_hydra_config=False)

    return _compose


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that launches the CLI (helpers.alignbench, launch, start), itself, through a function of the tests or
    through a fixture, is slow: marked so here, so `make test-fast` never launches one, whatever its file says.
    The SLURM tests go first: they mostly wait on the cluster, so with `-n 2` (make test) the rest runs meanwhile."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/slurm/"))
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        funcs = [item.function] if isinstance(item, pytest.Function) else []
        if fixtures is not None:
            funcs += [defs[-1].func for defs in fixtures.name2fixturedefs.values() if defs]
        if any(_launches(func, set()) for func in funcs):
            item.add_marker(pytest.mark.slow)


def _launches(func, seen: set) -> bool:
    """Whether `func` or a function of the tests it names calls one of helpers' launchers."""
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    names = set()
    stack = [code]
    while stack:  # names used by the function and the functions and lambdas defined in it
        current = stack.pop()
        names.update(current.co_names)
        stack += [const for const in current.co_consts if inspect.iscode(const)]
    for name in names:
        target = func.__globals__.get(name)
        if any(target is launcher for launcher in LAUNCHERS):
            return True
        if inspect.isfunction(target) and str(TESTS) in (inspect.getsourcefile(target) or ""):
            if _launches(target, seen):
                return True
    return False
