"""Runs made of other runs (merges): the completed runs a merge names, found by run directory, run key or axis
values in a sweep folder, and why any of them cannot be used (missing, not completed, on another base). Pure
Python over records, so a plan checks them as a launch does, before anything loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignbench.config.sources import base_identity
from alignbench.runs.dirs import RECORD, RunDir
from alignbench.runs.record import RunRecord, Status


@dataclass
class Input:
    wanted: str  # how the merge names it, for messages
    run_dir: Path | None = None
    record: RunRecord | None = None
    problem: str | None = None  # why it cannot be merged; None: usable

    @property
    def key(self) -> str:
        return self.record.run_key if self.record and not self.problem else f"unavailable: {self.wanted}"

    @property
    def adapter(self) -> Path:
        """Where a usable input's adapter is (an unusable one has a problem instead, maybe no run folder)."""
        assert self.run_dir is not None and self.problem is None, f"merge input {self.wanted}: {self.problem}"
        return RunDir(self.run_dir).adapter


def merge_inputs(config: dict[str, Any]) -> list[Input]:
    """The inputs of a merge run (plain config, e.g. the resolved one); [] for a run that merges nothing."""
    merge = config["method"].get("merge")
    if not merge:
        return []
    base = base_identity(config["model"], config["quant"])
    sweep_dir = Path(merge["sweep_dir"]).expanduser() if merge.get("sweep_dir") else None
    return [_find(selector, sweep_dir, base) for selector in merge["inputs"]]


def input_problems(inputs: list[Input]) -> list[str]:
    return [f"merge input {i} ({found.wanted}): {found.problem}" for i, found in enumerate(inputs, 1) if found.problem]


def _find(selector: dict[str, Any], sweep_dir: Path | None, base: dict[str, Any]) -> Input:
    if selector.get("run_dir"):
        return _check(f"run_dir={selector['run_dir']}", Path(selector["run_dir"]).expanduser(), base)
    if sweep_dir is None:
        return Input(_describe(selector), problem="method.merge.sweep_dir is not set, so no run can be looked up")
    if selector.get("run_key"):
        return _check(f"run_key={selector['run_key']}", sweep_dir / selector["run_key"], base)
    wanted = _describe(selector)
    if not sweep_dir.is_dir():
        return Input(wanted, problem=f"{sweep_dir} does not exist: run the sweep that makes the inputs first")
    candidates: list[tuple[Path, RunRecord]] = []
    for path in sorted(sweep_dir.glob(f"*/{RECORD}")):
        record = RunRecord.read(path.parent)
        if record is not None and _base_of(record) == base and _matches(record, selector["choices"]):
            candidates.append((path.parent, record))
    if not candidates:
        return Input(wanted, problem=f"no run in {sweep_dir} has these values on this base (model and quantization)")
    if len(candidates) > 1:
        keys = ", ".join(record.run_key for _, record in candidates)
        return Input(wanted, problem=f"{len(candidates)} runs match ({keys}); name one more axis, e.g. seed")
    run_dir, record = candidates[0]
    return _check(wanted, run_dir, base, record)


def _check(wanted: str, run_dir: Path, base: dict[str, Any], record: RunRecord | None = None) -> Input:
    """The run in `run_dir` (its record, when read already) as a merge input, with why it cannot be one."""
    record = record or RunRecord.read(run_dir)
    found = Input(wanted, run_dir, record)
    if record is None:
        found.problem = f"{run_dir} has no {RECORD} (not run yet?)"
    elif record.status is not Status.completed:
        found.problem = f"its run {record.run_key} is {record.status.value}" + (
            f": {record.error}" if record.error else ""
        )
    elif _base_of(record) != base:
        found.problem = (
            f"its run {record.run_key} is on another base ({record.choices.get('model')}, "
            f"quant {record.choices.get('quant')})"
        )
    elif not (RunDir(run_dir).adapter / "adapter_config.json").is_file():
        found.problem = f"its run {record.run_key} has no adapter in {RunDir(run_dir).adapter}"
    return found


def _matches(record: RunRecord, choices: dict[str, Any]) -> bool:
    """Group choices (method: sft) are read from the record's choices, anything else as a config path."""
    for key, value in choices.items():
        found: Any
        if key in record.choices:
            found = record.choices[key]
        else:
            found = record.config
            for part in key.split("."):
                found = found.get(part) if isinstance(found, dict) else None
        if str(found) != str(value):
            return False
    return True


def _describe(selector: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in selector.get("choices", {}).items()) or "nothing"


def _base_of(record: RunRecord) -> dict[str, Any]:
    return base_identity(record.config["model"], record.config["quant"])
