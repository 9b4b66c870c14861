"""run_key (what is trained) and eval_key (how it is evaluated): hashes of the whole resolved config, never of a
delta from defaults, so changing a default changes the key."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

# Sections that say where things are or how they are logged, not what is trained.
NOT_IN_RUN_KEY = ("paths", "logger", "sweep", "dry_run", "cpu_threads", "stages")
# How a trained adapter is evaluated: keyed apart (eval_key), so adding a benchmark re-evaluates, never retrains.
EVALUATION = ("eval", "judge")
# Choices added after runs were trained, with the value that does what those runs did: hashed only when set to
# anything else, so a new choice never orphans a finished run (its key stays the key it was trained under).
ADDED = {
    ("dataset", "selection"): "fixed",
    ("method", "sft_loss"): "completion",
    ("method", "packing"): False,
    ("method", "train_eos"): True,
}


def resolve(config: DictConfig) -> dict[str, Any]:
    """The plain, fully resolved config that the keys hash and record.json keeps."""
    # to_container is typed for any node (a list, a string); a DictConfig of the schema's sections gives a dict.
    resolved = cast("dict[str, Any]", OmegaConf.to_container(config, resolve=True, enum_to_str=True))
    dataset = resolved.get("dataset")
    if isinstance(dataset, dict) and dataset.get("path") and dataset.get("sample"):
        # The user's files win over the bundled miniature that the CPU budget (preset/cpu.yaml) turns on: the
        # record and the keys say what is read (data.load reads dataset.path first).
        dataset["sample"] = False
    return resolved


def run_key(config: dict[str, Any]) -> str:
    """What is trained: the whole resolved config minus locations, logging and evaluation."""
    return digest(keyed_config(config))


def keyed_config(config: dict[str, Any]) -> dict[str, Any]:
    """The part of the resolved config that run_key hashes."""
    keyed = {k: v for k, v in config.items() if k not in NOT_IN_RUN_KEY + EVALUATION}
    keyed["model"] = {k: v for k, v in keyed["model"].items() if k != "path"}  # where the weights are, not what
    # Speed and resumability, not the result: a resumed run ends exactly as an uninterrupted one (tests/training).
    # What is saved while training (checkpoints, adapters at train.keep_steps) is not what is trained either.
    keyed["train"] = {k: v for k, v in keyed["train"].items() if k not in ("shared_caches", "save_steps", "keep_steps")}
    for (section, name), legacy in ADDED.items():
        if keyed.get(section, {}).get(name) == legacy:
            keyed[section] = {k: v for k, v in keyed[section].items() if k != name}
    # Which steps' adapters are evaluated (eval.at_steps) is evaluation, not training: a run with more evaluation
    # points is the same trained run (lifecycle.attempt fills in step adapters it lacks). Hashed as the empty list
    # every key had when no step was evaluated, so those keys stay the keys their runs were trained under.
    keyed["checkpoints"] = []
    if "merge" in keyed["method"]:  # where a merge's inputs are found, not which (method.merge.input_keys)
        keyed["method"] = {
            **keyed["method"],
            "merge": {k: v for k, v in keyed["method"]["merge"].items() if k != "sweep_dir"},
        }
    return keyed


def eval_key(config: dict[str, Any]) -> str:
    """How it is evaluated: the eval and judge sections."""
    return digest({k: config[k] for k in EVALUATION})


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
