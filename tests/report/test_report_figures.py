"""Every figure is drawn when its runs exist (PNG and SVG, non-empty) and listed as absent otherwise."""

from __future__ import annotations

import itertools

import pytest
from report_records import make_record

from alignbench.report.figures import FIGURES, draw_figures
from alignbench.report.results import records_frame
from alignbench.report.tables import Absent

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
