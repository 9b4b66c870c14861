"""A trained run reused rather than trained again: the same run key trained in another sweep's folder
(sweep.inputs_dir, e.g. paper_quantity's runs are sweep=paper's), and step adapters a run lacks for the
eval.at_steps it is asked to evaluate (trained again only up to the last one missing). Pure Python."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from alignbench.config.schema import Config
from alignbench.runs import adapter
from alignbench.runs.dirs import RunDir
from alignbench.runs.record import RunRecord

# What a step folder holds besides the adapter: the outputs of an evaluation of it, which are the evaluating run's.
STEP_OUTPUTS = ("eval", "generations.jsonl")


def trained_elsewhere(cfg: Config, run_key: str, run_dir: Path) -> Path | None:
    """The run directory of sweep.inputs_dir that holds this run key trained (grid sweeps name run directories by run
    key), unless it is this one; None when there is none."""
    if not cfg.sweep.inputs_dir:
        return None
    source = Path(cfg.sweep.inputs_dir).expanduser() / run_key
    if not source.is_dir() or source.resolve() == Path(run_dir).resolve():
        return None
    record = RunRecord.read(source)
    return source if record is not None and record.trained(run_key, source) else None


def link_trained(source: Path, run_dir: Path) -> None:
    """The source's adapter and step adapters, into run_dir (hard links where the file system allows, else copies),
    each folder renamed into place whole. Its manifest carries what training produced (runs.recovery reads it)."""
    run, found = RunDir(run_dir), RunDir(source)
    run.path.mkdir(parents=True, exist_ok=True)
    folders = [(found.adapter, run.adapter)]
    if found.steps.is_dir():
        folders += [(step, run.steps / step.name) for step in found.steps.iterdir() if step.name.isdigit()]
    for origin, target in folders:
        if target.exists():
            continue
        partial = target.with_name(f".{target.name}.linking")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(origin, partial, copy_function=_link_or_copy, ignore=shutil.ignore_patterns(*STEP_OUTPUTS))
        os.replace(partial, target)


def _link_or_copy(origin: str, target: str) -> None:
    try:
        os.link(origin, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(origin, target)


def missing_steps(cfg: Config, run_dir: Path) -> list[int]:
    """The eval.at_steps whose adapter the run directory lacks (or holds damaged)."""
    return [step for step in cfg.eval.at_steps if adapter.step_problem(run_dir, step) is not None]
