"""Files that are whole or absent: a JSON file written atomically, and a folder published whole (saved under a staging
name, described by a manifest of every file's size and sha256 written last, renamed into place), verified against
its manifest before use and set aside when damaged. Adapters, step adapters, checkpoints and the tokenized cache are
such folders; a kill or a full disk leaves the previous folder or none, never half of one."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
# Libraries written in Rust (safetensors, tokenizers) report an OS error as text: "... (os error 28)".
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


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


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None, and a dict's non-finite keys listed under
    "nonfinite" (so a record says which numbers were not numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        cleaned = {k: finite(v) for k, v in value.items()}
        bad = sorted(k for k, v in value.items() if isinstance(v, float) and not math.isfinite(v))
        return cleaned | ({"nonfinite": bad} if bad else {})
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Readers see the old file or the new one, never half of one; a failed write (a full disk) leaves the old one
    and no temporary file, and raises an OSError naming `path`."""
    # Strict JSON (most readers reject NaN): a non-finite number is written as null, its key listed.
    text = json.dumps(finite(data), indent=2, sort_keys=False, default=str, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; records are meant to be read by reports and teammates
        os.replace(tmp, path)
    except OSError as err:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        if err.errno is None:
            raise
        raise OSError(err.errno, err.strerror, str(path)) from err
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextmanager
def staged(staging: Path) -> Iterator[Path]:
    """`staging`, cleared of a previous attempt's leftovers (one killed while saving), to save a folder into; removed
    again if saving fails, a Rust library's I/O error raised as the OSError it is (a full disk: ENOSPC)."""
    shutil.rmtree(staging, ignore_errors=True)
    try:
        yield staging
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        as_os_error = _os_error(err, staging)
        if as_os_error is not None:
            raise as_os_error from err
        raise


def listing(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file under `folder` but its manifest: relative name -> size and sha256, each fsynced."""
    files = {}
    for path in _files(folder):
        fsync_path(path)
        files[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": sha256_of(path)}
    return files


def write_manifest(folder: Path, about: dict[str, Any]) -> dict[str, Any]:
    """Describe the staged `folder` in its manifest, written last: `about` (whose folder it is) and its files."""
    manifest = {**about, "files": listing(folder)}
    write_json_atomic(folder / MANIFEST, manifest)
    return manifest


def publish(staging: Path, target: Path) -> Path:
    """Rename the staged, manifested folder to `target` whole (atomic on one filesystem), replacing a previous one."""
    replaced = target.with_name(f".{target.name}.replaced")  # the previous one, for the instant between two renames
    shutil.rmtree(replaced, ignore_errors=True)
    if target.exists():  # a directory cannot be renamed over a non-empty one: move the old one aside first
        os.replace(target, replaced)
    os.replace(staging, target)
    fsync_path(target.parent)
    shutil.rmtree(replaced, ignore_errors=True)
    return target


def read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's manifest (OSError, ValueError if absent or not JSON)."""
    return json.loads((folder / MANIFEST).read_text())


def verify(folder: Path, exact: bool = False) -> str | None:
    """Why `folder` is not the complete folder its manifest describes, in one line; None when it is. `exact`: a file
    the manifest does not list is a problem too (a checkpoint holds nothing else; a cache entry may gain files)."""
    try:
        files = read_manifest(folder)["files"]
    except FileNotFoundError:
        return f"{folder} has no manifest (its save did not finish, or it was not written by alignbench)"
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"{folder} has an unreadable manifest ({type(err).__name__})"
    if not isinstance(files, dict) or not files:
        return f"{folder / MANIFEST} lists no files"
    return mismatch(folder, files, "its manifest", exact)


def mismatch(folder: Path, files: dict[str, dict[str, Any]], source: str, exact: bool = False) -> str | None:
    """The first file of `files` (name -> size, sha256) that `folder` lacks or holds otherwise, named with what
    `source` says of it (e.g. "its manifest", "record.json"); None when every one matches."""
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{path} has {path.stat().st_size} bytes where {source} says {expected['size']}"
        digest = sha256_of(path)
        if digest != expected["sha256"]:
            return f"{path} has sha256 {digest[:16]}… where {source} says {expected['sha256'][:16]}…"
    if exact:
        extra = [path for path in _files(folder) if path.relative_to(folder).as_posix() not in files]
        if extra:
            return f"{extra[0]} is not in {source}"
    return None


def set_aside(path: Path, kind: str, into: Path) -> Path:
    """Move a damaged or torn folder out of the way, kept for inspection: `into`/<name>.<kind>.<utc stamp>."""
    target = into / f"{path.name}.{kind}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    into.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file() and path != folder / MANIFEST)


def _os_error(err: BaseException, path: Path) -> OSError | None:
    """An OSError for a Rust library's I/O error, so a full disk reads `OSError ENOSPC` wherever it happened."""
    if isinstance(err, OSError):
        return None
    found = _OS_ERROR.search(str(err))
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))
