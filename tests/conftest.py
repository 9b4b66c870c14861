"""Shared fixtures: offline Hugging Face, a per-session tiny-model cache, and Hydra composition of conf/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import CONF

# Tests never reach a hub: a missing file must fail at once, not after a retry loop.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
