"""Files of other projects (a benchmark's questions, its prompt, a judge's prompt), fetched at a pinned commit into
the cache on first use and verified by sha256: never committed here, never used when they differ from the pin."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from alignbench.config.hub import Unavailable
from alignbench.config.schema import UpstreamFile

FETCH_TIMEOUT_S = 10


def upstream_file(spec: UpstreamFile, folder: str | Path, key: str, instead: str) -> Path:
    """The pinned file in `folder`, the cache's upstream files (runs.dirs.CacheDir.upstream), fetched first if absent.
    `key` names the config section in messages and `instead` the local alternative, e.g. "set
    eval.red_instruct.path to a local file in the same schema"."""
    target = cached_path(spec, folder)
    pinned = f"{spec.file} of {spec.repo}@{spec.commit[:12]}"
    if target.is_file():
        found = _sha256(target.read_bytes())
        if found != spec.sha256:
            raise Unavailable(
                f"{key}: {target} is not {pinned} (sha256 {found[:12]}..., pinned {spec.sha256[:12]}...); "
                "delete it to fetch the pinned file again"
            )
        return target
    url = f"https://raw.githubusercontent.com/{spec.repo}/{spec.commit}/{spec.file}"
    where = f"Put that file (sha256 {spec.sha256}) at {target}, or {instead}"
    if offline():
        raise Unavailable(f"{key}: {pinned} is not in the cache and HF_HUB_OFFLINE forbids fetching it. {where}")
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as err:
        raise Unavailable(
            f"{key}: {pinned} is not in the cache and could not be fetched ({err}). Put that file "
            f"(sha256 {spec.sha256}) at {target}, or {instead}"
        ) from err
    if _sha256(data) != spec.sha256:
        raise Unavailable(f"{key}: {url} no longer matches its pinned sha256 {spec.sha256[:12]}...; not used")
    _write_atomic(target, data)
    return target


def offline() -> bool:
    """The hub's offline switch stops every download alignbench would make, these fetches included."""
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def cached_path(spec: UpstreamFile, folder: str | Path) -> Path:
    return Path(folder).expanduser() / spec.repo / spec.commit / spec.file


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
