"""Every bounded number of the schema is checked where it is declared: a bad override is one line at compose time."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
from helpers import alignbench
from omegaconf import DictConfig, OmegaConf

from alignbench.config.guard import config_problems

REPO = Path(__file__).resolve().parents[2]
# Configs that between them hold every bounded field: the default run (DPO, a tiny model with a scorer and judges),
# SFT, a merge (its merge settings) and the paper's evaluation (lm-eval built-ins, generation benchmarks).
CONFIGS = [[], ["method=sft"], ["method=merge_dare_ties_sft"], ["eval=paper"]]


def bounded(node: DictConfig, path: str = "") -> dict[str, dict]:
    """{dotted key: bounds} of every field with bounds in a composed config."""
    found = {}
    kind = OmegaConf.get_type(node)
    for spec in dataclasses.fields(kind) if dataclasses.is_dataclass(kind) else []:
        key = f"{path}.{spec.name}" if path else spec.name
        if spec.name in node and isinstance(node._get_node(spec.name), DictConfig):
            found |= bounded(node[spec.name], key)
        elif spec.metadata:
            found[key] = dict(spec.metadata)
    return found


def bad_value(bounds: dict) -> float:
    if "max" in bounds:
        return bounds["max"] + 1
    return bounds.get("min", bounds.get("above", 0)) - 1


def cases(compose):
    seen = {}
    for overrides in CONFIGS:
        for key, bounds in bounded(compose(overrides)).items():
            seen.setdefault(key, (overrides, bounds))
    return seen


def test_every_bounded_field_refuses_a_value_out_of_bounds_naming_the_key(compose):
    found = cases(compose)
    # the examples, and that the walk reached every group
    for key in ("method.max_steps", "dataset.train_samples", "adapter.r", "method.batch_size", "method.learning_rate"):
        assert key in found, key
    assert {key.split(".")[0] for key in found} >= {"model", "dataset", "method", "adapter", "eval", "judge", "train"}
    assert len(found) > 40
    composed = {tuple(overrides): compose(overrides) for overrides in CONFIGS}
    for key, (overrides, bounds) in found.items():
        value = bad_value(bounds)
        config = copy.deepcopy(composed[tuple(overrides)])
        OmegaConf.update(config, key, value, merge=False)  # as an override sets it (checked end to end below)
        problems = config_problems(config)
        assert any(p.startswith(f"{key}={value}") for p in problems), (key, problems)


def test_the_values_the_shipped_configs_use_are_all_in_bounds(compose):
    for overrides in [*CONFIGS, ["method=base"], ["method=sft_dpo"], ["model=mistral", "quant=nf4"]]:
        assert config_problems(compose(overrides)) == [], overrides


@pytest.mark.slow
def test_a_bad_value_is_one_line_exit_1_and_nothing_written(tmp_path):
    done = alignbench("method.max_steps=-3", f"hydra.run.dir={tmp_path / 'run'}", timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["alignbench: method.max_steps=-3: must be at least 1"]
    assert not (tmp_path / "run").exists()
