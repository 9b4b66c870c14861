"""What a run directory still proves when its record.json is unreadable (truncated, hand-damaged) or gone: the
damaged record is set aside under a timestamped name with one warning, its attempt and failure counts are read
from what is left of it, and a complete adapter for the same run key (runs.adapter) is kept and only evaluated,
never trained again."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alignbench.runs import adapter
from alignbench.runs.dirs import RunDir
from alignbench.runs.record import RunRecord, Status

log = logging.getLogger(__name__)
_COUNT = re.compile(r'"(attempt|failures)":\s*(\d+)')


def previous_record(run_dir: Path, run_key: str) -> RunRecord | None:
    """The run directory's record, or what stands for it when it cannot be read: None when nothing of an earlier
    attempt is left."""
    path = RunDir(run_dir).record
    try:
        record = RunRecord.from_json(json.loads(path.read_text()))
        # The disk filled up right after the save (no trained_at), or left only the record's essentials.
        if record.run_key == run_key and (record.trained_at is None or "incomplete" in record.extra):
            _adopt(record, adapter.manifest(run_dir, run_key), run_dir)
        return record
    except FileNotFoundError:
        attempt, failures, note = 0, 0, None
    except (OSError, ValueError, TypeError, AttributeError) as err:  # ValueError: bad JSON, bytes or status
        attempt, failures, note = _set_aside(path, err)
    done = adapter.manifest(run_dir, run_key)
    if done is None and note is None:
        return None
    record = RunRecord(
        run_key=run_key, status=Status.interrupted, run_dir=str(run_dir), attempt=attempt, failures=failures
    )
    _adopt(record, done, run_dir)
    if note is not None:
        kept = f"its complete adapter (run_key {run_key}) is kept and evaluated" if done else "the run starts again"
        log.warning("alignbench: warning: %s; %s", note, kept)
    return record


def _adopt(record: RunRecord, done: dict[str, Any] | None, run_dir: Path) -> None:
    """What the complete adapter's manifest says training produced, into the record (nothing if there is none)."""
    if done is None:
        return
    for name, value in done["record"].items():
        if name in ("metrics", "timings"):
            value = {**getattr(record, name), **value}
        setattr(record, name, value)
    record.adapter_path = str(RunDir(run_dir).adapter)
    record.adapter_files = done["files"]


def _set_aside(path: Path, err: BaseException) -> tuple[int, int, str]:
    """Rename the unreadable record out of the way; the attempt and failure counts that can still be read from it
    (0 where they cannot), and what happened."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        text = ""
    counts = {name: int(value) for name, value in _COUNT.findall(text)}
    aside = path.with_name(f"{path.name}.unreadable-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}")
    os.replace(path, aside)
    why = " ".join(str(err).split())[:120]
    return (
        counts.get("attempt", 0),
        counts.get("failures", 0),
        f"{path} is unreadable ({type(err).__name__}: {why}); set aside as {aside.name}",
    )
