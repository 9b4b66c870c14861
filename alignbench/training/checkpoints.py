"""Resumable training checkpoints in a run directory: written aside, described by a manifest, renamed complete last.

run_dir/checkpoints/
  checkpoint-<step>/          complete: the HF Trainer's files (adapter, optimizer, scheduler, RNG, trainer state),
                              alignbench's loss accumulators, and manifest.json written last
  .staging/checkpoint-<step>/ being written; a leftover one was torn by a kill and is set aside, never loaded
  set_aside/<name>.<why>.<utc> torn or damaged checkpoints, kept for inspection (safe to delete)

The manifest lists every file with its size and sha256, the step and the run key, plus the keyed config so that a
checkpoint of another configuration is refused naming what changed. Pure Python: planning must not import torch.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alignbench.config.rules import ConfigError
from alignbench.runs import files
from alignbench.runs.dirs import CHECKPOINTS, RunDir  # noqa: F401 (CHECKPOINTS: the folder's name, for its readers)

STAGING = ".staging"
SET_ASIDE = "set_aside"
KEEP = 2  # complete checkpoints kept: the newest, and one older in case the newest is damaged after the fact
NAME = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class Picked:
    """The checkpoint a run resumes from, and what was set aside on the way to it."""

    path: Path | None
    step: int | None
    set_aside: list[str]


def root(run_dir: Path) -> Path:
    return RunDir(run_dir).checkpoints


def write_manifest(folder: Path, step: int, run_key: str, keyed: dict[str, Any]) -> None:
    """Describe every file of `folder` (sizes, sha256), fsynced, with the manifest written and fsynced last."""
    files.write_manifest(folder, {"step": step, "run_key": run_key, "keyed": keyed, "written_at": _utc()})


def publish(staged: Path, step: int) -> Path:
    """Rename a staged, manifested checkpoint to its complete name (atomic on one filesystem), then prune. The same
    step saved again (a resumed run re-saving) replaces it whole."""
    folder = staged.parent.parent
    target = files.publish(staged, folder / f"checkpoint-{step}")
    for old in complete_names(folder)[KEEP:]:
        shutil.rmtree(folder / old, ignore_errors=True)
    return target


def discard(run_dir: Path) -> None:
    """After the adapter is saved: the checkpoints go (optimizer state, twice the adapter); set-aside ones stay for
    inspection, and the folder with them."""
    folder = root(run_dir)
    for name in [*complete_names(folder), STAGING]:
        shutil.rmtree(folder / name, ignore_errors=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def complete_names(folder: Path) -> list[str]:
    """checkpoint-<step> folders, newest step first."""
    if not folder.is_dir():
        return []
    steps = {p.name: int(found[1]) for p in folder.iterdir() if p.is_dir() and (found := NAME.match(p.name))}
    return sorted(steps, key=steps.__getitem__, reverse=True)


def problem(folder: Path) -> str | None:
    """Why `folder` is not a complete checkpoint (no manifest, a file missing, changed or added), or None."""
    return files.verify(folder, exact=True)


def pick(run_dir: Path, run_key: str, keyed: dict[str, Any]) -> Picked:
    """The newest complete checkpoint of this run, after setting aside every torn or damaged one newer than it.

    A complete checkpoint of another run key is refused (ConfigError naming the changed fields): resuming it
    would train a mix of two configurations, and starting over would silently discard it.
    """
    folder = root(run_dir)
    set_aside = [_set_aside(p, "torn") for p in sorted((folder / STAGING).glob("checkpoint-*"))]
    for name in complete_names(folder):
        path = folder / name
        if why := problem(path):
            set_aside.append(_set_aside(path, "corrupt", why))
            continue
        manifest = files.read_manifest(path)
        if manifest["run_key"] != run_key:
            changed = changed_fields(manifest.get("keyed", {}), keyed)
            raise ConfigError(
                f"{path} was trained with run_key {manifest['run_key']}, this config is run_key {run_key} "
                f"(changed: {', '.join(changed) or 'unknown'}); run it in another directory, or delete "
                f"{folder} to start over"
            )
        return Picked(path, manifest["step"], set_aside)
    return Picked(None, None, set_aside)


def changed_fields(old: dict[str, Any], new: dict[str, Any], limit: int = 8) -> list[str]:
    """'key: old -> new' for each leaf that differs, dotted, at most `limit`."""
    before, after = _flat(old), _flat(new)
    diffs = [
        f"{k}: {before.get(k, '<absent>')} -> {after.get(k, '<absent>')}"
        for k in sorted(set(before) | set(after))
        if before.get(k, "<absent>") != after.get(k, "<absent>")
    ]
    return diffs[:limit] + ([f"... {len(diffs) - limit} more"] if len(diffs) > limit else [])


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flat(v, f"{prefix}{k}.")
        return out
    return {prefix[:-1]: value}


def _set_aside(path: Path, kind: str, why: str = "never completed") -> str:
    """Move a checkpoint that must not be loaded out of the way, saying so."""
    target = files.set_aside(path, kind, path.parents[1 if path.parent.name == STAGING else 0] / SET_ASIDE)
    print(f"alignbench: checkpoint {path} is {kind} ({why}); set aside as {target}, not loaded", flush=True)
    return f"{path.name}: {kind} ({why}) -> {target}"


def _utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
