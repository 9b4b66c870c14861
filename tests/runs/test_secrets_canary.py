"""The secret canary: fake secrets set every way a user could (the environment, the command line, a URL, an
interpolation), a real default run with W&B offline and a real sweep (planned, then launched through submitit), and
then every file alignbench, Hydra, submitit and W&B wrote is searched for the canary bytes: none may hold them."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from helpers import alignbench
from wandb.proto import wandb_internal_pb2
from wandb_files import BLOCK, FILE_HEADER, FIRST, LAST, RECORD_HEADER, records

CANARY = "CANARY" + "7f3e9a1c5b2d48e6a0f4c8b1d3e5a7c9e2f40b6d"  # 40 characters after the prefix, like a W&B key
# The base's scores are the same code as the adapter's, on another model: left out to halve the evaluation.
TINY = ["method.max_steps=4", "dataset.eval_samples=8", "eval.generations=2", "eval.max_new_tokens=4"]
TINY += ["eval.baseline=false"]
# Each is refused before Hydra starts; the run directory they name must never appear.
REFUSED = [
    f"+judge.harm.api_key={CANARY}",
    f"+model.token={CANARY}",
    f"judge.harm.base_url=http://u:{CANARY}@127.0.0.1:9/v1",
    "+notes=${oc.env:OPENAI_API_KEY}",
    "judge.harm.base_url=${oc.env:JUDGE_URL}",  # a clean command line whose resolved value carries the canary
]


def environment(root: Path, cache: Path) -> dict[str, str]:
    """The canary in every variable that holds a key; everything a library writes kept under `root`."""
    for folder in ("home", "tmp", "wandb_data", "wandb_cache", "wandb_config"):
        (root / folder).mkdir()
    return {
        "OPENAI_API_KEY": CANARY,
        "HF_TOKEN": CANARY,
        "WANDB_API_KEY": CANARY,
        "JUDGE_URL": f"http://u:{CANARY}@127.0.0.1:9/v1",
        "HOME": str(root / "home"),  # ~/.cache/huggingface, ~/.config/wandb, ...
        "TMPDIR": str(root / "tmp"),
        "WANDB_MODE": "offline",  # W&B files are written, nothing is sent
        "WANDB_DATA_DIR": str(root / "wandb_data"),
        "WANDB_CACHE_DIR": str(root / "wandb_cache"),
        "WANDB_CONFIG_DIR": str(root / "wandb_config"),
        "ALIGNBENCH_CACHE": str(cache),
    }


def holds_canary(path: Path) -> bool:
    data = path.read_bytes()
    if CANARY.encode() in data:
        return True
    if path.suffix == ".wandb":  # records are split across 32 KiB blocks: search each one reassembled too
        return any(CANARY.encode() in record.SerializeToString() for record in records(path))
    return False


@pytest.mark.slow
def test_no_file_written_by_a_run_or_a_sweep_holds_a_secret(tmp_path, tiny_cache):
    env = environment(tmp_path, tiny_cache)
    run_dir, sweep_dir = tmp_path / "run", tmp_path / "sweep"
    outputs = []
    for override in REFUSED:
        for mode in ([], ["-m", "seed=0,1", "dry_run=true"]):
            done = alignbench(*mode, override, f"hydra.run.dir={run_dir}", f"hydra.sweep.dir={sweep_dir}", env=env)
            assert done.returncode == 1 and done.stderr.startswith("alignbench: "), (override, done.stderr[-2000:])
            outputs.append(done)
    assert not run_dir.exists() and not sweep_dir.exists()

    # The real default run (tiny budget) with W&B offline, then a sweep: planned, then launched (one job).
    done = alignbench(*TINY, "logger=wandb", f"hydra.run.dir={run_dir}", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = ["-m", *TINY, "logger=wandb", "eval.benchmarks=[]", f"hydra.sweep.dir={sweep_dir}"]
    planned = alignbench(*sweep, "seed=1,2", "dry_run=true", env=env)
    assert planned.returncode == 0 and "2 pending" in planned.stdout, planned.stderr[-3000:]
    launched = alignbench(*sweep, "seed=1", "hydra/launcher=processes", env=env)  # submitit: .submitit/ too
    assert launched.returncode == 0, launched.stderr[-3000:]
    outputs += [done, planned, launched]

    searched = [path for root in (tmp_path, tiny_cache) for path in root.rglob("*") if path.is_file()]
    names = {path.name for path in searched}
    # What the search must have covered, so that it cannot pass on an empty folder.
    assert {"config.yaml", "overrides.yaml", "hydra.yaml", "record.json", "alignbench.log"} <= names
    assert {"multirun.yaml", "plan.json", "debug.log", "debug-internal.log", "output.log"} <= names
    assert any(name.endswith("_submitted.pkl") for name in names) and any(n.endswith("_log.out") for n in names)
    wandb_runs = [path for path in searched if path.suffix == ".wandb"]
    assert len(wandb_runs) == 2  # the single run's and the sweep job's: config, summary, argv, system metadata
    assert [str(path) for path in searched if holds_canary(path)] == []
    assert not any(CANARY in out.stdout + out.stderr for out in outputs)  # nor on the console


def test_the_search_finds_a_canary_split_across_the_blocks_of_a_wandb_file(tmp_path):
    """The search itself can fail: a record that straddles a 32 KiB block of a run file holds the canary only once
    its fragments are joined."""
    room = BLOCK - len(FILE_HEADER) - RECORD_HEADER  # what the first block holds of a record
    data = _record_with_canary_at(room - len(CANARY) // 2)
    path = tmp_path / "run-x.wandb"
    path.write_bytes(FILE_HEADER + _fragment(FIRST, data[:room]) + _fragment(LAST, data[room:]))
    assert CANARY.encode() not in path.read_bytes()
    assert holds_canary(path)


def _record_with_canary_at(offset: int) -> bytes:
    """A config record whose serialized bytes hold the canary at `offset` (a padding value pushes it there)."""
    size = offset
    for _ in range(5):
        record = wandb_internal_pb2.Record()
        record.config.update.add(key="padding", value_json=json.dumps("x" * size))
        record.config.update.add(key="leak", value_json=json.dumps(CANARY))
        data = record.SerializeToString()
        shift = data.index(CANARY.encode()) - offset
        if shift == 0:
            return data
        size -= shift
    raise AssertionError("could not place the canary")


def _fragment(kind: int, chunk: bytes) -> bytes:
    return struct.pack("<IHB", zlib.crc32(chunk, zlib.crc32(bytes([kind]))), len(chunk), kind) + chunk
