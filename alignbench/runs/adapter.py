"""A run directory's adapter folder is complete or absent: it is saved under a staging name, a manifest (every file's
size and sha256, the run key, what training recorded) is written into it last, and the folder is renamed whole.
So a run directory proves its training on its own, even when its record.json is lost or damaged (runs.recovery),
and a save that fails (a full disk, a kill) leaves the previous adapter or none, never half of one."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alignbench.runs.record import write_json_atomic

ADAPTER = "adapter"
MANIFEST = "manifest.json"
STAGING = ".adapter.partial"
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
        files = found["files"]
        if run_key is not None and found["run_key"] != run_key:
            return None
        for name, expected in files.items():
            path = folder / name
            if path.stat().st_size != expected["size"] or sha256_of(path) != expected["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if files else None


def is_complete(run_dir: Path, run_key: str) -> bool:
    """run_dir/adapter is a complete adapter for run_key. One saved before manifests existed counts when its
    PEFT files are there (a record that says it was trained vouches for it)."""
    if (run_dir / ADAPTER / MANIFEST).exists():
        return manifest(run_dir, run_key) is not None
    return all((run_dir / ADAPTER / name).is_file() for name in ("adapter_config.json", "adapter_model.safetensors"))


def _os_error(err: BaseException, path: Path) -> OSError | None:
    """An OSError for a Rust library's I/O error, so a full disk reads `OSError ENOSPC` wherever it happened."""
    if isinstance(err, OSError):
        return None
    found = _OS_ERROR.search(str(err))
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder: its entries, e.g. a rename into it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
