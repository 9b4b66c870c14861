"""load_runs and the seed statistics on hand-written records: axes, stages, missing benchmarks, failures."""

from __future__ import annotations

import numpy as np
import pytest
from report_records import make_record, restudy, write_records
from scipy import stats

from alignbench.report import aggregate, load_runs, runs_of
from alignbench.report.results import NoRecords, UnreadableRecord, own_rows, records_frame


def test_long_form_has_axes_stages_and_adapter():
    frame = records_frame(
        [make_record(quant="nf4", seed=3, metrics={"eval/mmlu/acc": 0.4, "baseline/mmlu/acc": 0.3, "train/loss": 1.0})]
    )
    assert set(zip(frame["stage"], frame["value"], strict=False)) == {
        ("trained", 0.4),
        ("baseline", 0.3),
    }  # train/ is not a result
    row = frame.iloc[0]
    assert (row.peft, row.quant, row.seed, row.paper_model, row.kind, row.family) == (
        "qlora",
        "nf4",
        3,
        "llama",
        "pretrained",
        "llama",
    )
    assert records_frame([make_record(quant="none")])["peft"].iloc[0] == "lora"
    assert records_frame([make_record(adapter="dora", quant="nf4")])["peft"].iloc[0] == "dora+nf4"  # not QLoRA


def test_a_benchmark_that_could_not_run_is_missing_not_zero():
    record = make_record(
        metrics={"eval/mmlu/acc": 0.4, "eval/bbh/exact_match": 0.0}, errors={"bbh": "BenchmarkUnavailable: no data"}
    )
    frame = records_frame([record])
    assert "bbh" not in set(frame["benchmark"])
    assert set(frame["benchmark"]) == {"mmlu"}


def test_failed_runs_are_counted_but_never_averaged():
    records = [make_record(seed=s, metrics={"eval/mmlu/acc": v}) for s, v in enumerate([0.2, 0.3, 0.7])]
    records.append(make_record(seed=9, status="failed", metrics={"eval/mmlu/acc": 0.99}))
    records.append(make_record(seed=10, status="failed"))  # failed before any metric: still one row
    frame = records_frame(records)
    assert runs_of(frame)["status"].value_counts().to_dict() == {"completed": 3, "failed": 2}
    cell = aggregate(frame, ["model", "method"]).query("benchmark == 'mmlu'").iloc[0]
    values = np.array([0.2, 0.3, 0.7])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert cell["n"] == 3
    assert cell["mean"] == pytest.approx(values.mean())
    assert cell["std"] == pytest.approx(values.std(ddof=1))
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((values.mean() - half, values.mean() + half))


def test_one_seed_has_no_spread():
    cell = aggregate(records_frame([make_record(metrics={"eval/mmlu/acc": 0.5})]), ["model"]).iloc[0]
    assert cell["n"] == 1 and np.isnan(cell["std"]) and np.isnan(cell["ci_low"])


def test_sweep_folders_nested_run_dirs_and_record_files(tmp_path):
    write_records(tmp_path / "a", [make_record(seed=0), make_record(seed=1)])
    write_records(tmp_path / "b" / "deeper", [make_record(seed=2)])
    one = next((tmp_path / "a").rglob("record.json"))
    frame = load_runs([tmp_path / "a", tmp_path / "b", one])  # the file is also under a/: counted once
    assert len(runs_of(frame)) == 3


def test_unreadable_record_is_warned_skipped_and_counted(tmp_path):
    write_records(tmp_path, [make_record()])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "record.json").write_text("{not json")
    seen = []
    with pytest.warns(UnreadableRecord, match="broken/record.json"):
        frame = load_runs(tmp_path, on_unreadable=lambda path, message: seen.append(path))
    assert len(runs_of(frame)) == 1
    assert frame.attrs["unreadable"] == [str(tmp_path / "broken" / "record.json")]
    assert len(seen) == 1


def test_bad_paths_raise_naming_them(tmp_path):
    with pytest.raises(NoRecords, match="nowhere: no such file"):
        load_runs(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoRecords, match="empty: no record.json"):
        load_runs(tmp_path / "empty")


def test_wandb_runs_load_into_the_same_shape():
    from types import SimpleNamespace

    from alignbench.report import load_wandb_runs
    from alignbench.report.results import COLUMNS

    config = make_record(model="tiny_vicuna", method="sft", seed=4)["config"]

    class Api:
        def runs(self, project, filters):
            assert (project, filters) == ("me/alignbench", {"group": "paper"})
            return [
                SimpleNamespace(
                    config=config,
                    summary={"eval/mmlu/acc": 0.4, "baseline/mmlu/acc": 0.3, "_runtime": 12, "train/loss": 1.0},
                    state="finished",
                    group="paper",
                    id="x1",
                    url="https://wandb.ai/r/x1",
                )
            ]

    frame = load_wandb_runs("me/alignbench", "paper", api=Api())
    assert list(frame.columns) == COLUMNS
    assert sorted(zip(frame["stage"], frame["value"], strict=False)) == [("baseline", 0.3), ("trained", 0.4)]
    row = frame.iloc[0]
    assert (row.status, row.model, row.kind, row.method, row.seed, row.adapter) == (
        "completed",
        "tiny_vicuna",
        "instruct",
        "sft",
        4,
        "lora",
    )


def test_merges_are_table_3_variants_and_steps_are_quantity_points():
    merge = make_record(metrics={"eval/mmlu/acc": 0.5}, study=False)  # an old record: axes derived from its config
    merge["choices"]["method"] = "merge_dare_all"
    merge["config"]["method"] = {
        "name": "merge_dare_all",
        "max_steps": 0,
        "batch_size": 1,
        "merge": {
            "combination": "dare_ties",
            "inputs": [
                {"choices": {"method": m, "dataset.preference": p}}
                for m in ("dpo", "sft")
                for p in ("helpful", "harmless")
            ],
        },
    }
    row = records_frame([merge]).iloc[0]
    assert (row.variant, row.method, row.preference) == ("merge_dare_ties", "sft+dpo", "harmless+helpful")
    assert row.derived

    stepped = make_record(metrics={"eval/mmlu/acc": 0.5, "eval@100/mmlu/acc": 0.3, "eval@700/mmlu/acc": 0.5})
    stepped["config"]["method"].update(max_steps=700, batch_size=16)
    restudy(stepped)
    frame = records_frame([stepped])
    points = frame[frame["benchmark"] == "mmlu"][["steps", "samples", "value"]].values.tolist()
    assert points == [[700, 11200, 0.5], [100, 1600, 0.3]]  # step 700 is the run's own evaluation, not twice
    assert len(runs_of(frame)) == 1 and runs_of(frame)["steps"].item() == 700
    assert own_rows(frame)["steps"].unique().tolist() == [700]  # tables never take a curve's points for runs


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda s: s.update(version="1"), "no integer version"),
        (lambda s: s.pop("variant"), "lacks variant"),
        (lambda s: s.pop("cell"), "lacks cell"),
        (lambda s: s.update(sections=[1]), "wrong type"),
    ],
)
def test_a_malformed_study_block_is_named_and_skipped_never_guessed(tmp_path, edit, says):
    good, bad = make_record(seed=0), make_record(seed=1)
    edit(bad["study"])
    write_records(tmp_path, [good, bad])
    with pytest.warns(UnreadableRecord, match=says):
        frame = load_runs(tmp_path)
    assert runs_of(frame)["run_key"].tolist() == [good["run_key"]]
    assert frame.attrs["unreadable"] == [str(tmp_path / bad["run_key"] / "record.json")]


def test_a_record_reached_twice_counts_once_but_another_evaluation_of_it_is_its_own(tmp_path):
    record = make_record(seed=0, metrics={"eval/mmlu/acc": 0.3})
    write_records(tmp_path / "sweep", [record])
    write_records(tmp_path / "copy", [dict(record)])  # a copied sweep folder
    frame = load_runs([tmp_path / "sweep", tmp_path / "copy"])
    assert len(runs_of(frame)) == 1 and frame.attrs["duplicates"] == [record["run_key"]]
    assert aggregate(frame, ["model"]).query("benchmark == 'mmlu'")["n"].tolist() == [1]
    evaluated = dict(record, eval_key="e1")
    write_records(tmp_path / "other", [evaluated])
    assert len(runs_of(load_runs([tmp_path / "sweep", tmp_path / "other"]))) == 2
