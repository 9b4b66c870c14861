"""A run directory's adapter folder is complete or absent: it is saved under a staging name, a manifest (every file's
size and sha256, the run key, what training recorded) is written into it last, and the folder is renamed whole.
So a run directory proves its training on its own, even when its record.json is lost or damaged (runs.recovery),
and a save that fails (a full disk, a kill) leaves the previous adapter or none, never half of one."""

from __future__ import annotations

import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from alignbench.runs import files
from alignbench.runs.dirs import ADAPTER, RunDir  # noqa: F401 (ADAPTER: the name the pipeline's stages use)

MANIFEST = files.MANIFEST
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")  # what an adapter saved before manifests has


def staged(run_dir: Path) -> AbstractContextManager[Path]:
    """A fresh staging folder to save the adapter into; removed again if saving fails. `commit` publishes it."""
    return files.staged(RunDir(run_dir).staging_adapter)


def commit(run_dir: Path, run_key: str, kept: dict[str, Any]) -> Path:
    """Write the manifest into the staged adapter and rename the folder to run_dir/adapter; its path.

    `kept` is what the record keeps of training (RunRecord.kept_by_evaluation), so a run directory whose record is
    lost is re-evaluated with its training's numbers instead of being trained again."""
    run = RunDir(run_dir)
    try:
        files.write_manifest(run.staging_adapter, {"run_key": run_key, "record": kept})
    except BaseException:
        shutil.rmtree(run.staging_adapter, ignore_errors=True)
        raise
    return files.publish(run.staging_adapter, run.adapter)


def manifest(run_dir: Path, run_key: str | None = None) -> dict[str, Any] | None:
    """The manifest of run_dir/adapter if the folder is complete (for `run_key`, when given): every file it lists
    present with its size and checksum. None otherwise (absent, torn, another run's, or saved before manifests)."""
    folder = RunDir(run_dir).adapter
    try:
        found = files.read_manifest(folder)
        if run_key is not None and found["run_key"] != run_key:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if files.verify(folder) is None else None


def listed(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The files the published adapter's manifest lists (name -> size, sha256): what its record keeps, so the adapter
    is still verified when the manifest is lost."""
    return files.read_manifest(RunDir(run_dir).adapter)["files"]


def problem(run_dir: Path, run_key: str, kept: dict[str, dict[str, Any]] | None = None) -> str | None:
    """Why run_dir/adapter is not a complete adapter for run_key, in one line naming the file; None when it is.

    Checked against the files the record keeps (`kept`, see `listed`) and those its manifest lists, whichever
    exist: with one of them lost or edited, the other still vouches. An adapter saved before either existed counts
    when its PEFT files are there (a record that says it was trained vouches for it)."""
    folder = RunDir(run_dir).adapter
    if not folder.is_dir():
        return f"{folder} does not exist"
    found = None
    if (folder / MANIFEST).exists():
        try:
            found = files.read_manifest(folder)
            owner, listing = found["run_key"], found["files"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"{folder / MANIFEST} is unreadable ({type(err).__name__})"
        if owner != run_key:
            return f"{folder} holds the adapter of run_key {owner}, not {run_key}"
        if not listing:
            return f"{folder / MANIFEST} lists no files"
        if kept is not None and listing != kept:
            return f"{folder / MANIFEST} lists other files or checksums than record.json keeps"
    if kept is not None:
        return files.mismatch(folder, kept, "record.json")
    if found is None:
        return _peft_problem(folder)
    return files.mismatch(folder, found["files"], "its manifest")


def step_problem(run_dir: Path, step: int) -> str | None:
    """Why the adapter saved at `step` (eval.at_steps) is not complete, in one line naming the file; None when it is.
    Checked against its manifest; one saved before step adapters had manifests counts when its PEFT files are there
    (it was renamed into place whole all the same)."""
    folder = RunDir(run_dir).step(step)
    return files.verify(folder) if (folder / MANIFEST).exists() else _peft_problem(folder)


def _peft_problem(folder: Path) -> str | None:
    missing = [name for name in PEFT_FILES if not (folder / name).is_file()]
    return f"{folder / missing[0]} is missing" if missing else None


def is_complete(run_dir: Path, run_key: str, kept: dict[str, dict[str, Any]] | None = None) -> bool:
    """run_dir/adapter is a complete adapter for run_key (see `problem`)."""
    return problem(run_dir, run_key, kept) is None
