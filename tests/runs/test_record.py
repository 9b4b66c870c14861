"""The typed run record: old record.json files read and write back unchanged, and one place decides when a run is
done, trained, or only needs re-evaluating."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from alignbench.runs.digest import metrics_digest
from alignbench.runs.record import RECORD, RunRecord, Status

BEFORE_REGROUP = Path(__file__).parent / "data" / "record_before_regroup.json"


def test_a_record_written_before_the_regroup_reads_and_writes_back_identically(tmp_path):
    data = json.loads(BEFORE_REGROUP.read_text())
    shutil.copy(BEFORE_REGROUP, tmp_path / RECORD)
    record = RunRecord.read(tmp_path)
    assert record.status is Status.completed and record.run_key == data["run_key"]
    assert record.metrics["eval/pref/accuracy"] == data["metrics"]["eval/pref/accuracy"]
    record.write(tmp_path / "again")
    written = json.loads((tmp_path / "again" / RECORD).read_text())
    assert written.pop("digest") == {"metrics": metrics_digest(data["metrics"]), "items": {}}  # added on write
    assert written == data  # otherwise same keys, same order, same values


def test_unknown_keys_survive_a_rewrite_and_late_keys_appear_only_once_set(tmp_path):
    RunRecord.from_json({"run_key": "k", "status": "running", "from_the_future": [1, 2]}).write(tmp_path)
    written = json.loads((tmp_path / RECORD).read_text())
    assert written["from_the_future"] == [1, 2] and "error" not in written and "finished_at" not in written


def test_done_means_same_keys_completed_and_every_benchmark_ran(tmp_path):
    done = RunRecord("k", eval_key="e", status=Status.completed, benchmarks={"errors": {}})
    assert done.is_done("k", "e") and done.is_done("k", None)
    assert not done.is_done("other", "e") and not done.is_done("k", "e2")
    partly = RunRecord("k", eval_key="e", status=Status.completed, benchmarks={"errors": {"mmlu": "no hub"}})
    assert not partly.is_done("k", "e") and partly.is_done("k", None)
    for status in (Status.failed, Status.running, Status.interrupted):
        assert not RunRecord("k", eval_key="e", status=status).is_done("k", "e")


def test_trained_needs_the_adapter_on_disk_and_evaluation_keeps_only_training(tmp_path):
    record = RunRecord(
        "k",
        trained_at="2026-12-04T00:00:00+00:00",
        adapter_path="x",
        model_path="m",
        metrics={"train/loss": 0.1, "data/train_pairs": 8, "eval/pref/accuracy": 1.0},
        timings={"train_s": 3.0, "evaluate_s": 2.0},
    )
    assert not record.trained("k", tmp_path)
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    assert not record.trained("k", tmp_path)  # no weights: not an adapter
    (tmp_path / "adapter" / "adapter_model.safetensors").write_bytes(b"weights")  # saved before manifests existed
    assert record.trained("k", tmp_path) and not record.trained("other", tmp_path)
    kept = record.kept_by_evaluation()
    assert kept["metrics"] == {"train/loss": 0.1, "data/train_pairs": 8} and kept["timings"] == {"train_s": 3.0}
    assert kept["model_path"] == "m" and kept["trained_at"] == record.trained_at


def test_the_sweep_results_table_averages_completed_runs_per_axis_value():
    from alignbench.sweep.progress import results_table

    runs = [
        ({"method": "sft", "seed": "0"}, {"eval/pref/accuracy": 0.5, "eval/mmlu/acc": 0.25}),
        ({"method": "sft", "seed": "1"}, {"eval/pref/accuracy": 0.7}),
        ({"method": "dpo", "seed": "0"}, {"eval/pref/accuracy": 0.9, "eval/mmlu/acc": 0.5}),
    ]
    lines = results_table(runs, ["method", "seed"])
    assert lines[1].split() == ["n", "pref", "mmlu"]
    assert lines[2].split() == ["method=sft", "2", "0.600", "0.250"]  # mmlu: only the run that has it
    assert lines[3].split() == ["method=dpo", "1", "0.900", "0.500"]
    assert len(lines) == 4  # seeds are replicates: averaged in, not rows
    assert results_table([], ["method"]) == []


def test_records_are_strict_json_with_non_finite_numbers_named(tmp_path):
    record = RunRecord("k", metrics={"eval/pref/margin": float("nan"), "train/loss": float("inf"), "ok": 1.0})
    record.write(tmp_path)

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    written = json.loads((tmp_path / RECORD).read_text(), parse_constant=refuse)
    assert written["metrics"] == {
        "eval/pref/margin": None,
        "train/loss": None,
        "ok": 1.0,
        "nonfinite": ["eval/pref/margin", "train/loss"],
    }
