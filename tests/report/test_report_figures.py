"""Every figure is drawn when its runs exist (PNG and SVG, non-empty) and listed as absent otherwise."""

from __future__ import annotations

import itertools

import pytest
from report_records import make_record

from alignbench.report.figures import FIGURES, draw_figures
from alignbench.report.results import records_frame
from alignbench.report.tables import Absent
from alignbench.runs.study import cell_of

BENCH = {
    "eval/mmlu/acc": 0.3,
    "eval/alpaca_eval/win_rate": 40.0,
    "eval/real_toxicity/score": 0.1,
    "baseline/mmlu/acc": 0.25,
    "baseline/alpaca_eval/win_rate": 50.0,
    "baseline/real_toxicity/score": 0.0,
}


def scored(seed: int, **axes) -> dict:
    shift = 0.01 * seed + 0.02 * (axes.get("method") == "dpo")
    return make_record(
        seed=seed,
        metrics={k: v + shift for k, v in BENCH.items()}
        | {"eval/pref/accuracy": 0.6 + shift + 0.001 * axes.get("r", 0)},
        **axes,
    )


@pytest.fixture(scope="module")
def every_kind_of_run():
    records = [
        scored(seed, model=model, method=method, quant=quant)
        for seed, model, method, quant in itertools.product(
            range(2), ["tiny_llama", "tiny_vicuna"], ["sft", "dpo"], ["none", "nf4"]
        )
    ]
    records += [scored(0, model="tiny_mistral", method="dpo", steps=steps) for steps in (100, 200, 400)]
    records += [
        scored(0, model="tiny_mistral", method="sft", r=r, alpha=alpha)
        for r, alpha in itertools.product((32, 64), (16, 32))
    ]
    return records_frame(records)


def test_every_figure_written_non_empty(every_kind_of_run, tmp_path):
    figures = draw_figures(every_kind_of_run, tmp_path)
    assert [f.name for f in figures] == list(FIGURES)
    for figure in figures:
        assert not isinstance(figure, Absent), figure
        for path in figure.paths.values():
            assert path.stat().st_size > 5_000, path
        assert figure.paths["svg"].read_text().lstrip().startswith("<?xml")


def test_absent_figures_name_their_sweep(tmp_path):
    frame = records_frame([scored(s, method=m) for s in range(2) for m in ("sft", "dpo")])
    absent = {f.name: f.sweep for f in draw_figures(frame, tmp_path) if isinstance(f, Absent)}
    assert absent == {
        "base_vs_instruct": "paper",
        "lora_vs_qlora": "paper",
        "quantity": "paper_quantity",
        "quantity_relative": "paper_quantity",
        "rank_alpha": "paper_rank",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sft_vs_dpo.png",
        "sft_vs_dpo.svg",
        "tradeoff.png",
        "tradeoff.svg",
    ]


def test_fig_3_is_beavertails_as_percent_of_the_1600_sample_score_never_pooled():
    """Points at 800, 1,600 and 3,200 samples (batch 8): each as % of its own line's 1,600-sample score; an HH-RLHF
    line and another preference never enter BeaverTails' harmless line."""
    from alignbench.report.figures import relative_points

    records = []
    for dataset, preference, scale in (("beavertails", "harmless", 1.0), ("hh_rlhf", "harmless", 9.0)):
        for preference_, extra in ((preference, 0.0), ("helpful", 0.5)):
            for steps, value in ((100, 0.2), (200, 0.4), (400, 0.5)):
                records.append(
                    make_record(
                        model="tiny_mistral",
                        method="sft",
                        dataset=dataset,
                        preference=preference_,
                        steps=steps,
                        metrics={"eval/mmlu/acc": scale * value + extra},
                    )
                )
    points = relative_points(records_frame(records))
    assert set(points["dataset"]) == {"beavertails"}
    harmless = points[points["preference"] == "harmless"].set_index("samples")["percent"]
    assert harmless.to_dict() == pytest.approx({800: 50.0, 1600: 100.0, 3200: 125.0})
    helpful = points[points["preference"] == "helpful"].set_index("samples")["percent"]
    assert helpful.to_dict() == pytest.approx({800: 70 / 0.9, 1600: 100.0, 3200: 100 / 0.9})


def test_quantity_points_never_average_lora_with_qlora_or_two_eval_settings():
    from alignbench.report.figures import _quantity_points

    records = [
        make_record(model="tiny_mistral", method="sft", quant=quant, steps=steps, metrics={"eval/mmlu/acc": value})
        for quant, value in (("none", 0.3), ("nf4", 0.7))
        for steps in (100, 200)
    ]
    records += [
        make_record(model="tiny_mistral", method="dpo", steps=steps, metrics={"eval/mmlu/acc": 0.5}, eval_key=key)
        for key in ("e1", "e2")
        for steps in (100, 200)
    ]
    for record in records[4:]:  # the same configuration evaluated two ways: another eval key in the study block
        record["study"]["eval_key"] = record["eval_key"]
        record["study"]["cell"] = cell_of(record["study"])
    data, left_out = _quantity_points(records_frame(records))
    points = data.groupby(["method", "peft", "samples"])["value"].agg(["mean", "count"])
    assert points.loc[("sft", "lora", 800)].tolist() == [0.3, 1] and points.loc[("sft", "qlora", 800)].tolist() == [
        0.7,
        1,
    ]
    assert points.loc[("dpo", "lora", 800), "count"] == 1 and "eval_key" in left_out
