"""Read a W&B offline run as the dashboard will show it once synced: config, group, tags, summary, history, artifacts.

wandb 0.31 keeps these only in `run-<id>.wandb` and ships no reader for it. The file is a 7-byte header (":W&B",
magic 0xBEE1, version 0) followed by LevelDB-log records in 32 KiB blocks: a 7-byte record header (crc32 of the type
byte then the data, little-endian length, type) and a fragment that is a whole record (FULL) or part of one
(FIRST, MIDDLE, LAST); a block tail shorter than a header is zero padding. Each record is a protobuf
`wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK, RECORD_HEADER = 32 * 1024, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    folder: Path  # wandb/offline-run-<time>-<id>
    id: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[Any] = field(default_factory=list)  # wandb_internal_pb2.ArtifactRecord
    exit_code: int | None = None

    def table(self, key: str) -> dict[str, Any]:
        """The wandb.Table logged under `key`, as written to files/: {"columns": [...], "data": [[...], ...]}."""
        return json.loads((self.folder / "files" / self.summary[key]["path"]).read_text())


def read_run(run_dir: Path) -> OfflineRun:
    """The one offline W&B run under run_dir/wandb."""
    (folder,) = (run_dir / "wandb").glob("offline-run-*")
    (path,) = folder.glob("run-*.wandb")
    run = OfflineRun(folder)
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.id, run.group, run.job_type, run.tags = r.run_id, r.run_group, r.job_type, list(r.tags)
            _apply(run.config, r.config.update)
        elif kind == "config":
            _apply(run.config, record.config.update)
        elif kind == "summary":
            _apply(run.summary, record.summary.update)
        elif kind == "history":
            row: dict[str, Any] = {}
            _apply(row, record.history.item)
            run.history.append(row)
        elif kind == "artifact":
            run.artifacts.append(record.artifact)
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    data = path.read_bytes()
    assert data.startswith(FILE_HEADER), f"{path} is not a W&B run file: {data[:7]!r}"
    position, pending = len(FILE_HEADER), b""
    while position + RECORD_HEADER <= len(data):
        left_in_block = BLOCK - position % BLOCK
        if left_in_block < RECORD_HEADER:
            position += left_in_block
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, position)
        chunk = data[position + RECORD_HEADER : position + RECORD_HEADER + length]
        position += RECORD_HEADER + length
        if kind == 0 and length == 0:  # zero padding at the end of a block or of a file still being written
            continue
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) == crc, f"corrupt record at byte {position} of {path}"
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def _apply(target: dict[str, Any], items) -> None:
    """Config, summary and history items: a key (or a path of nested keys) and a JSON value."""
    for item in items:
        *parents, last = list(item.nested_key) or [item.key]
        node = target
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = json.loads(item.value_json)
