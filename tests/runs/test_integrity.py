"""Record integrity with real faults: a full disk (a small tmpfs mounted for the test, so the kernel answers ENOSPC),
a file-size limit (RLIMIT_FSIZE in a child process: EFBIG), a truncated record.json, a torn adapter folder; and the
failure reasons that decide whether a retry is spent."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import tmpfs

from alignbench.config.hub import Unavailable
from alignbench.config.rules import ConfigError
from alignbench.runs import adapter, files
from alignbench.runs.failures import Reason, reason_of
from alignbench.runs.record import RECORD, RunRecord, Status
from alignbench.runs.recovery import previous_record
from alignbench.runs.state import Job, status_of


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs: writes past it fail with a real ENOSPC."""
    with tmpfs(tmp_path, "64k") as mount:
        yield mount


def fill(disk: Path) -> None:
    """Fill the disk to the last byte."""
    with (disk / "filler").open("wb", buffering=0) as f:
        for size in (4096, 1):  # pages, then the last bytes
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as err:
                assert err.errno == errno.ENOSPC


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_full_disk_keeps_the_previous_record_and_leaves_no_temporary_file(small_disk):
    RunRecord("k", status=Status.completed, metrics={"eval/pref/accuracy": 0.9}).write(small_disk)
    before = (small_disk / RECORD).read_text()
    fill(small_disk)

    with pytest.raises(OSError) as raised:
        RunRecord("k", status=Status.running, metrics={"x": 1.0} | {f"m{i}": i for i in range(500)}).write(small_disk)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(small_disk / RECORD)
    assert (small_disk / RECORD).read_text() == before
    assert leftovers(small_disk) == []


def test_a_full_disk_at_the_last_write_leaves_a_failed_record_naming_the_cause(small_disk):
    record = RunRecord("k", status=Status.running, attempt=2, failures=1, config={"pad": "x" * 3000})
    record.write(small_disk)  # the record as the run started: its bytes are what the last write may reuse
    fill(small_disk)
    record.status, record.metrics = Status.completed, {f"eval/m{i}": 0.5 for i in range(400)}  # larger than before

    with pytest.raises(OSError) as raised:
        record.write_last(small_disk)
    assert raised.value.errno == errno.ENOSPC
    written = json.loads((small_disk / RECORD).read_text())  # strict JSON, whole
    assert written["status"] == "failed" and written["reason"] == "disk_full"
    assert written["error"].startswith("OSError ENOSPC: No space left on device") and RECORD in written["error"]
    assert written["failures"] == 1 and written["attempt"] == 2  # the environment's fault: no retry spent
    assert leftovers(small_disk) == []
    # The sweep sees a failed run it will retry.
    job = status_of(small_disk, Job([], "k"))
    assert job.status is Status.failed and job.reason == "disk_full" and job.should_run(max_failures=2)


def test_a_full_disk_while_saving_the_adapter_leaves_the_previous_adapter_and_no_staging(small_disk):
    from safetensors.torch import save_file
    from torch import zeros

    with adapter.staged(small_disk) as staging:
        staging.mkdir()
        save_file({"w": zeros(16)}, str(staging / "adapter_model.safetensors"))
    adapter.commit(small_disk, "k", {"trained_at": "then"})
    assert adapter.manifest(small_disk, "k")["record"] == {"trained_at": "then"}

    with pytest.raises(OSError) as raised:  # safetensors (Rust) reports "os error 28": raised as the OSError it is
        with adapter.staged(small_disk) as staging:
            staging.mkdir()
            save_file({"w": zeros(64 * 1024)}, str(staging / "adapter_model.safetensors"))  # 256 KiB > the disk
    assert raised.value.errno == errno.ENOSPC and reason_of(raised.value) is Reason.disk_full
    assert adapter.manifest(small_disk, "k")["record"] == {"trained_at": "then"}  # the previous one, complete
    assert leftovers(small_disk) == []


def test_a_file_size_limit_fails_the_write_and_leaves_the_old_record(tmp_path):
    """The same guarantee without root: RLIMIT_FSIZE in a child process makes the kernel refuse the write (EFBIG)."""
    RunRecord("k", status=Status.completed).write(tmp_path)
    before = (tmp_path / RECORD).read_text()
    child = f"""
import resource, signal, errno
from pathlib import Path
from alignbench.runs.record import write_json_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the kernel then fails the write with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
try:
    write_json_atomic(Path({str(tmp_path / RECORD)!r}), {{"run_key": "k", "pad": "x" * 10000}})
except OSError as err:
    print(errno.errorcode[err.errno], err.filename)
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["EFBIG", str(tmp_path / RECORD)]
    assert (tmp_path / RECORD).read_text() == before and leftovers(tmp_path) == []


def complete_adapter(run_dir: Path, run_key: str) -> None:
    with adapter.staged(run_dir) as staging:
        staging.mkdir()
        (staging / "adapter_config.json").write_text("{}")
        (staging / "adapter_model.safetensors").write_bytes(os.urandom(256))
    kept = {"trained_at": "2026-12-04T00:00:00+00:00", "metrics": {"train/loss": 0.25}, "timings": {"train_s": 9.0}}
    adapter.commit(run_dir, run_key, kept)


def test_a_truncated_record_is_set_aside_and_a_complete_adapter_is_kept(tmp_path, caplog):
    RunRecord("k", status=Status.completed, attempt=3, failures=1, config={"pad": "x" * 500}).write(tmp_path)
    complete_adapter(tmp_path, "k")
    text = (tmp_path / RECORD).read_text()
    (tmp_path / RECORD).write_text(text[: len(text) // 2])  # e.g. a full disk under an older version, or a copy cut

    with caplog.at_level(logging.WARNING):
        previous = previous_record(tmp_path, "k")
    (aside,) = tmp_path.glob(f"{RECORD}.unreadable-*")
    assert aside.read_text() == text[: len(text) // 2] and not (tmp_path / RECORD).exists()
    (warning,) = [r.getMessage() for r in caplog.records]
    assert str(tmp_path / RECORD) in warning and aside.name in warning and "adapter (run_key k) is kept" in warning
    # What the run directory proves: trained for this key, with training's numbers; the attempt history read back.
    assert previous.trained("k", tmp_path) and not previous.is_done("k", None)
    assert previous.metrics == {"train/loss": 0.25} and previous.timings == {"train_s": 9.0}
    assert (previous.attempt, previous.failures) == (3, 1)
    assert RunRecord.start(("k", "e"), True, previous, tmp_path, {}, keep_training=True).attempt == 4


def test_an_unreadable_record_without_an_adapter_starts_again_counting_its_attempts(tmp_path, caplog):
    (tmp_path / RECORD).write_bytes(b'{"run_key": "k", "status": "failed", "attempt": 2, "failures": 2, "\xff')
    with caplog.at_level(logging.WARNING):
        previous = previous_record(tmp_path, "k")
    assert (previous.attempt, previous.failures) == (2, 2) and not previous.trained("k", tmp_path)
    assert "the run starts again" in caplog.records[0].getMessage()
    assert previous_record(tmp_path / "empty", "k") is None  # nothing at all: a fresh run, no warning
    assert len(caplog.records) == 1


def test_a_torn_or_foreign_adapter_is_not_complete(tmp_path):
    complete_adapter(tmp_path, "k")
    assert adapter.is_complete(tmp_path, "k") and not adapter.is_complete(tmp_path, "other")
    weights = tmp_path / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # cut short after the manifest was written
    assert not adapter.is_complete(tmp_path, "k") and adapter.manifest(tmp_path, "k") is None


def test_failures_not_the_runs_fault_spend_no_retry():
    from huggingface_hub.errors import LocalEntryNotFoundError

    from alignbench.training.callbacks import NonFiniteTraining

    wrapped = OSError("could not load the model")
    wrapped.__cause__ = LocalEntryNotFoundError("not in the cache")
    cases = [
        (Unavailable("model x is not available"), "unavailable", 0),
        (wrapped, "unavailable", 0),
        (OSError(errno.ENOSPC, "No space left on device", "f"), "disk_full", 0),
        (ConfigError("this run cannot start:\n- model 'm' is not available: offline", "unavailable"), "unavailable", 0),
        (ConfigError("eval.batch_size=0 must be at least 1"), "config", 1),
        (NonFiniteTraining("step 2: loss is nan"), "nonfinite", 1),
        (RuntimeError("a bug"), "error", 1),
        (KeyboardInterrupt("SIGTERM"), "interrupted", 0),
    ]
    for err, reason, spent in cases:
        record = RunRecord("k", failures=1)
        record.fail(err)
        assert (record.reason, record.failures - 1) == (reason, spent), err
        assert record.status is (Status.interrupted if reason == "interrupted" else Status.failed)


def test_the_sweep_summary_groups_failures_by_reason_and_says_which_spent_no_retry():
    from alignbench.sweep.summary import failures_by_reason

    failed = [
        Job([], "a", status=Status.failed, reason="nonfinite", error="NonFiniteTraining: step 2: loss is nan"),
        Job([], "b", status=Status.failed, reason="unavailable", error="Unavailable: model m is not available"),
        Job([], "c", status=Status.failed, reason="unavailable", error="OSError: hub down"),
        Job(["model=x"], None, status=Status.invalid, error="model=x: no such option"),
    ]
    not_started = [Job([], "d", status=Status.pending, reason="config", error="ConfigError: eval.batch_size=0")]
    assert failures_by_reason(failed, not_started) == [
        "  unavailable: 2 runs; not the runs' fault: no retry spent",
        "    FAILED b: Unavailable: model m is not available",
        "    FAILED c: OSError: hub down",
        "  nonfinite: 1 run",
        "    FAILED a: NonFiniteTraining: step 2: loss is nan",
        "  invalid: 1 run",
        "    INVALID model=x: model=x: no such option",
        "  config: 1 run",
        "    NOT STARTED d: ConfigError: eval.batch_size=0",
    ]


def test_a_record_that_missed_its_training_takes_it_from_the_complete_adapter(tmp_path):
    """The adapter was published, then the disk filled up before the record said so: not trained again."""
    RunRecord("k", status=Status.failed, reason="disk_full", metrics={"data/train_pairs": 8}).write(tmp_path)
    complete_adapter(tmp_path, "k")
    previous = previous_record(tmp_path, "k")
    assert previous.trained("k", tmp_path) and previous.adapter_path == str(tmp_path / "adapter")
    assert previous.metrics == {"data/train_pairs": 8, "train/loss": 0.25}
    assert not previous_record(tmp_path, "other").trained("other", tmp_path)  # another run key's adapter: retrain


def test_a_record_cut_to_its_essentials_takes_training_from_the_complete_adapter(tmp_path):
    """A full disk at the last write left only the essentials (trained_at kept, metrics gone): a re-evaluation still
    reports training's numbers."""
    complete_adapter(tmp_path, "k")
    essentials = RunRecord("k", status=Status.failed, reason="disk_full", trained_at="2026-12-04T00:00:00+00:00")
    essentials.extra = {"incomplete": "disk full: only this was kept"}
    essentials.write(tmp_path)
    previous = previous_record(tmp_path, "k")
    assert previous.trained("k", tmp_path) and previous.metrics == {"train/loss": 0.25}
    assert previous.timings == {"train_s": 9.0}


def trained_record(run_dir: Path, run_key: str = "k") -> RunRecord:
    """A record of a trained run whose adapter was published, keeping its files as the pipeline does."""
    complete_adapter(run_dir, run_key)
    record = RunRecord(run_key, status=Status.completed, trained_at="2026-12-04T00:00:00+00:00")
    record.adapter_files = adapter.listed(run_dir)
    return record


@pytest.mark.parametrize("manifest_kept", [True, False])
def test_an_edited_adapter_is_named_by_file_and_hash_with_or_without_its_manifest(tmp_path, manifest_kept):
    record = trained_record(tmp_path)
    assert record.trained("k", tmp_path) and record.adapter_problem(tmp_path) is None
    weights = tmp_path / "adapter" / "adapter_model.safetensors"
    expected = record.adapter_files["adapter_model.safetensors"]["sha256"]
    if not manifest_kept:
        (tmp_path / "adapter" / adapter.MANIFEST).unlink()  # the manifest gone: the record still vouches
        assert record.trained("k", tmp_path)
    data = bytearray(weights.read_bytes())
    data[10] ^= 0xFF  # same size, one byte flipped
    weights.write_bytes(bytes(data))
    problem = record.adapter_problem(tmp_path)
    assert not record.trained("k", tmp_path)
    assert problem == (f"{weights} has sha256 {files.sha256_of(weights)[:16]}… where record.json says {expected[:16]}…")


def test_a_manifest_rewritten_to_match_an_edited_adapter_is_caught_by_the_record(tmp_path):
    record = trained_record(tmp_path)
    weights = tmp_path / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(os.urandom(256))
    manifest = json.loads((tmp_path / "adapter" / adapter.MANIFEST).read_text())
    manifest["files"]["adapter_model.safetensors"]["sha256"] = files.sha256_of(weights)
    (tmp_path / "adapter" / adapter.MANIFEST).write_text(json.dumps(manifest))
    assert adapter.is_complete(tmp_path, "k")  # the folder agrees with itself ...
    assert record.adapter_problem(tmp_path) == (  # ... but not with what the record kept when it was trained
        f"{tmp_path / 'adapter' / adapter.MANIFEST} lists other files or checksums than record.json keeps"
    )


def test_the_files_an_adapter_is_verified_by_survive_a_record_rewrite_and_a_lost_record(tmp_path):
    record = trained_record(tmp_path)
    record.write(tmp_path)
    again = RunRecord.read(tmp_path)
    assert again.adapter_files == record.adapter_files and again.trained("k", tmp_path)
    evaluation = RunRecord.start(("k", "e"), True, again, tmp_path, {}, keep_training=True)
    assert evaluation.adapter_files == record.adapter_files  # a re-evaluation keeps them
    (tmp_path / RECORD).unlink()
    assert previous_record(tmp_path, "k").adapter_files == record.adapter_files  # read back from the manifest
    missing = tmp_path / "adapter" / "adapter_config.json"
    missing.unlink()
    assert record.adapter_problem(tmp_path) == f"{missing} is missing"
