"""A run directory's adapter folder is complete or absent: it is saved under a staging name, a manifest (every file's
size and sha256, the run key, what training recorded) is written into it last, and the folder is renamed whole.
So a run directory proves its training on its own, even when its record.json is lost or damaged (runs.recovery),
and a save that fails (a full disk, a kill) leaves the previous adapter or none, never half of one."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alignbench.runs.digest import sha256_of
from alignbench.runs.record import write_json_atomic

ADAPTER = "adapter"
MANIFEST = "manifest.json"
STAGING = ".adapter.partial"
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")  # what an adapter saved before manifests has
REPLACED = ".adapter.replaced"  # the previous adapter, for the instant between two renames
# Libraries written in Rust (safetensors, tokenizers) report an OS error as text: "... (os error 28)".
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


@contextmanager
def staged(run_dir: Path) -> Iterator[Path]:
    """A fresh staging folder to save the adapter into; removed again if saving fails. `commit` publishes it."""
    staging = run_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # a previous attempt's, killed while saving
    try:
        yield staging
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        as_os_error = _os_error(err, staging)
        if as_os_error is not None:
            raise as_os_error from err
        raise


def commit(run_dir: Path, run_key: str, kept: dict[str, Any]) -> Path:
    """Write the manifest into the staged adapter and rename the folder to run_dir/adapter; its path.

    `kept` is what the record keeps of training (RunRecord.kept_by_evaluation), so a run directory whose record is
    lost is re-evaluated with its training's numbers instead of being trained again."""
    staging, target, replaced = run_dir / STAGING, run_dir / ADAPTER, run_dir / REPLACED
    try:
        files = {
            path.relative_to(staging).as_posix(): {"size": path.stat().st_size, "sha256": sha256_of(path)}
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        write_json_atomic(staging / MANIFEST, {"run_key": run_key, "files": files, "record": kept})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(replaced, ignore_errors=True)
    if target.exists():  # a directory cannot be renamed over a non-empty one: move the old one aside first
        os.replace(target, replaced)
    os.replace(staging, target)
    fsync_path(run_dir)
    shutil.rmtree(replaced, ignore_errors=True)
    return target


def manifest(run_dir: Path, run_key: str | None = None) -> dict[str, Any] | None:
    """The manifest of run_dir/adapter if the folder is complete (for `run_key`, when given): every file it lists
    present with its size and checksum. None otherwise (absent, torn, another run's, or saved before manifests)."""
    folder = run_dir / ADAPTER
    try:
        found = json.loads((folder / MANIFEST).read_text())
        if run_key is not None and found["run_key"] != run_key:
            return None
        if not found["files"] or _file_problem(folder, found["files"], "its manifest"):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return found


def listed(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The files the published adapter's manifest lists (name -> size, sha256): what its record keeps, so the adapter
    is still verified when the manifest is lost."""
    return json.loads((run_dir / ADAPTER / MANIFEST).read_text())["files"]


def problem(run_dir: Path, run_key: str, kept: dict[str, dict[str, Any]] | None = None) -> str | None:
    """Why run_dir/adapter is not a complete adapter for run_key, in one line naming the file; None when it is.

    Checked against the files the record keeps (`kept`, see `listed`) and those its manifest lists, whichever
    exist: with one of them lost or edited, the other still vouches. An adapter saved before either existed counts
    when its PEFT files are there (a record that says it was trained vouches for it)."""
    folder = run_dir / ADAPTER
    if not folder.is_dir():
        return f"{folder} does not exist"
    found = None
    if (folder / MANIFEST).exists():
        try:
            found = json.loads((folder / MANIFEST).read_text())
            owner, files = found["run_key"], found["files"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"{folder / MANIFEST} is unreadable ({type(err).__name__})"
        if owner != run_key:
            return f"{folder} holds the adapter of run_key {owner}, not {run_key}"
        if not files:
            return f"{folder / MANIFEST} lists no files"
        if kept is not None and files != kept:
            return f"{folder / MANIFEST} lists other files or checksums than record.json keeps"
    if kept is None and found is None:
        missing = [name for name in PEFT_FILES if not (folder / name).is_file()]
        return f"{folder / missing[0]} is missing" if missing else None
    if kept is not None:
        return _file_problem(folder, kept, "record.json")
    return _file_problem(folder, found["files"], "its manifest")


def _file_problem(folder: Path, files: dict[str, dict[str, Any]], source: str) -> str | None:
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{path} has {path.stat().st_size} bytes where {source} says {expected['size']}"
        digest = sha256_of(path)
        if digest != expected["sha256"]:
            return f"{path} has sha256 {digest[:16]}… where {source} says {expected['sha256'][:16]}…"
    return None


def is_complete(run_dir: Path, run_key: str, kept: dict[str, dict[str, Any]] | None = None) -> bool:
    """run_dir/adapter is a complete adapter for run_key (see `problem`)."""
    return problem(run_dir, run_key, kept) is None


def _os_error(err: BaseException, path: Path) -> OSError | None:
    """An OSError for a Rust library's I/O error, so a full disk reads `OSError ENOSPC` wherever it happened."""
    if isinstance(err, OSError):
        return None
    found = _OS_ERROR.search(str(err))
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder: its entries, e.g. a rename into it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
