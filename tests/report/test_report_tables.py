"""The study's tables: cells against a hand computation, missing cells, run counts, file formats, paper join."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from report_records import make_record, restudy

from alignbench.report.paper import paper_results
from alignbench.report.render import latex, write_table
from alignbench.report.results import records_frame
from alignbench.report.tables import MISSING, paper_tables, study_tables

SFT = [0.30, 0.34, 0.41]
DPO = [0.50, 0.52]


@pytest.fixture(scope="module")
def frame():
    records = [
        make_record(method="sft", seed=s, metrics={"eval/mmlu/acc": v, "baseline/mmlu/acc": 0.25})
        for s, v in enumerate(SFT)
    ]
    records += [
        make_record(method="dpo", seed=s, metrics={"eval/mmlu/acc": v, "baseline/mmlu/acc": 0.25})
        for s, v in enumerate(DPO)
    ]
    records.append(make_record(method="dpo", seed=2, status="failed"))
    # Another preference for tiny_llama makes (tiny_llama, helpful) a row of the grid; it has one SFT run only.
    records.append(make_record(method="sft", preference="helpful", seed=0, metrics={"eval/mmlu/acc": 0.2}))
    return records_frame(records)


def main_lora(frame):
    return next(t for t in study_tables(frame) if t.name == "main_lora")


def test_cell_is_mean_std_n_over_seeds_sft_then_dpo(frame):
    table = main_lora(frame)
    cell = table.display.loc[("beavertails", "tiny_llama", "harmless"), "MMLU"]
    sft, dpo = np.array(SFT), np.array(DPO)
    assert cell == (f"{sft.mean():.3f} ± {sft.std(ddof=1):.3f} (3) / {dpo.mean():.3f} ± {dpo.std(ddof=1):.3f} (2)")
    base = table.display.loc[("base", "tiny_llama", "unaligned"), "MMLU"]
    assert base == "0.250 (1)"  # the base is evaluated once, whatever the number of runs carrying it


def test_missing_cell_is_shown_missing_and_runs_counted(frame):
    table = main_lora(frame)
    assert table.display.loc[("beavertails", "tiny_llama", "helpful"), "MMLU"] == f"0.200 (1) / {MISSING}"
    # 2 rows x 2 methods x 3 seeds expected; 6 completed, 1 failed (never averaged), 5 missing.
    assert table.counts == {"expected": 12, "completed": 6, "failed": 1, "missing": 5}
    missing = table.cells.query("preference == 'helpful' and method == 'dpo'")
    assert missing["n"].tolist() == [0] and missing["mean"].isna().all()
    assert table.cells.query("preference == 'harmless' and method == 'dpo'")["failed"].tolist() == [1]


def test_absent_tables_name_their_sweep(frame):
    absent = {t.name: t.sweep for t in study_tables(frame) if not hasattr(t, "display")}
    assert absent == {"main_qlora": "paper (quant=nf4)", "mixture": "paper_mixture", "merging": "paper_merge"}


def test_every_format_parses_back(frame, tmp_path):
    table = main_lora(frame)
    paths = write_table(table, tmp_path)
    back = pd.read_csv(paths["csv"])
    pd.testing.assert_frame_equal(back, table.cells, check_dtype=False)
    tex = paths["tex"].read_text()
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    body = tex[tex.index(r"\midrule") : tex.index(r"\bottomrule")]
    assert body.count(r"\\") == len(table.display)  # one LaTeX row per table row
    assert r"$\pm$" in tex and "±" not in tex and MISSING not in tex
    md = paths["md"].read_text()
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert len(rows) == len(table.display) + 2  # header and rule


def test_the_paper_join_covers_every_cell_of_tables_2_to_5():
    """A run for every published cell, scoring exactly the published value: every cell joins, every diff is 0."""
    paper = paper_results()
    records = []
    for (dataset, model, preference, adapter, method, variant), cell in paper.groupby(
        ["dataset", "model", "preference", "adapter", "method", "variant"]
    ):
        if method == "none":  # the unaligned base: the baseline stage of any run on that model
            continue
        metrics = {f"eval/{row.benchmark}/{_metric(row.benchmark)}": row.value for row in cell.itertuples()}
        base = paper[(paper["model"] == model) & (paper["method"] == "none")]
        metrics |= {f"baseline/{row.benchmark}/{_metric(row.benchmark)}": row.value for row in base.itertuples()}
        quant = "nf4" if adapter == "qlora" else "none"
        if variant.startswith("merge"):  # a merge run as method=merge_* writes it: its inputs' methods/preferences
            record = make_record(
                model=model, dataset=dataset, method=variant, quant=quant, metrics=metrics, study=False
            )
            record["config"]["method"]["merge"] = {
                "combination": variant.removeprefix("merge_"),
                "inputs": [
                    {"choices": {"method": m, "dataset.preference": p}}
                    for m in method.split("+")
                    for p in preference.split("+")
                ],
            }
        else:
            record = make_record(
                model=model, dataset=dataset, preference=preference, method=method, quant=quant, metrics=metrics
            )
        records.append(record)
    tables = paper_tables(records_frame(records))
    assert [t.name for t in tables] == ["paper_table2", "paper_table3", "paper_table4", "paper_table5"]
    for table in tables:
        published = paper[paper["table"] == int(table.name[-1])]
        assert table.counts == {"published": len(published), "matched": len(published)}
        assert table.cells["diff"].abs().max() == pytest.approx(0)


def _metric(benchmark):
    from alignbench.report.study import BENCHMARKS

    return BENCHMARKS[benchmark].metric


def test_paper_values_beside_ours_with_difference(frame):
    table5 = next(t for t in paper_tables(frame) if t.name == "paper_table5")
    row = table5.display.loc[("beavertails", "llama", "harmless", "", "sft")]
    paper = (
        paper_results()
        .query(
            "table == 5 and model == 'llama' and preference == 'harmless' and method == 'sft' and benchmark == 'mmlu'"
        )["value"]
        .item()
    )
    assert row["MMLU paper"] == f"{paper:.3f}"
    assert row["MMLU ours"].startswith(f"{np.mean(SFT):.3f}")
    # tiny_llama stands in for llama: beside the published value, never compared with it
    assert row["MMLU Δ"] == MISSING and row["caveat"] == "tiny stand-in, no Δ"
    assert row["BBH ours"] == MISSING and row["BBH Δ"] == MISSING
    assert re.fullmatch(r"\d\.\d{3}", row["BBH paper"])


def test_latex_escapes_names(frame):
    assert r"tiny\_llama" in latex(main_lora(frame))


def test_a_sweep_where_every_run_failed_still_reports_its_counts(tmp_path):
    from report_records import write_records

    from alignbench.report import build_report

    write_records(
        tmp_path / "sweep", [make_record(method=m, seed=s, status="failed") for m in ("sft", "dpo") for s in range(2)]
    )
    built = build_report([tmp_path / "sweep"])
    assert {k: built.summary[k] for k in ("runs", "completed", "failed", "unreadable", "other")} == {
        "runs": 4,
        "completed": 0,
        "failed": 4,
        "unreadable": 0,
        "other": 0,
    }
    main = next(t for t in built.tables if t.name == "main_lora")
    assert main.counts == {"expected": 4, "completed": 0, "failed": 4, "missing": 0}
    assert set(built.findings["verdict"]) == {"absent"}
    assert (tmp_path / "sweep" / "report" / "index.html").is_file()


def test_a_cell_never_averages_other_step_counts_or_ranks():
    usual = [make_record(method="sft", seed=s, metrics={"eval/mmlu/acc": 0.3}) for s in range(3)]
    other = [
        make_record(method="sft", seed=0, steps=100, metrics={"eval/mmlu/acc": 0.9}),
        make_record(method="sft", seed=0, r=8, metrics={"eval/mmlu/acc": 0.8}),
    ]
    tables = [t for t in study_tables(records_frame(usual + other)) if t.name.startswith("main_lora")]
    cells = {t.title: t.display.loc[("beavertails", "tiny_llama", "harmless"), "MMLU"] for t in tables}
    assert cells == {
        "Main results, LoRA (paper Table 5) [r=8]": "0.800 (1)",
        "Main results, LoRA (paper Table 5) [r=64, steps=20]": "0.300 ± 0.000 (3)",
        "Main results, LoRA (paper Table 5) [r=64, steps=100]": "0.900 (1)",
    }


def test_bases_beside_the_paper_flag_the_setting_to_look_at():
    """A paper base measured 0.06 above Table 2's MMLU and within BBH's tolerance; a tiny stand-in is never joined."""
    from alignbench.report.tables import base_calibration

    records = [
        make_record(
            model="mistral", quant="nf4", seed=s, metrics={"baseline/mmlu/acc": 0.65, "baseline/bbh/exact_match": 0.40}
        )
        for s in range(3)
    ]
    records.append(make_record(model="tiny_mistral", quant="nf4", metrics={"baseline/mmlu/acc": 0.25}))
    table = base_calibration(records_frame(records))
    cells = table.cells.set_index(["model", "benchmark"])
    assert cells.loc[("mistral", "mmlu"), "diff"] == pytest.approx(0.06) and cells.loc[("mistral", "mmlu"), "outside"]
    assert (
        cells.loc[("mistral", "bbh"), "diff"] == pytest.approx(0.005) and not cells.loc[("mistral", "bbh"), "outside"]
    )
    assert np.isnan(cells.loc[("tiny_mistral", "mmlu"), "paper"])
    look = table.display.xs("mistral", level="model")["look at"].item()
    assert look.startswith("MMLU: shots") and "BBH" not in look
    assert table.counts == {"published": 2, "outside": 1}


def test_two_measurements_of_one_base_that_disagree_are_both_shown():
    """A method=base run (sweep=paper_bases) and a trained run's cached baseline of the same base: neither hides the
    other."""
    from alignbench.report.tables import base_calibration

    base_run = make_record(model="mistral", quant="nf4", method="base", metrics={"eval/mmlu/acc": 0.60})
    trained = make_record(model="mistral", quant="nf4", metrics={"eval/mmlu/acc": 0.7, "baseline/mmlu/acc": 0.50})
    table = base_calibration(records_frame([base_run, trained]))
    assert sorted(table.cells["ours"]) == [0.50, 0.60]
    line = table.display.xs("mistral", level="model").iloc[0]
    assert line["MMLU ours"] == "0.500 / 0.600" and line["MMLU Δ"] == "-0.090 / +0.010 ⚠"
    assert "2 measurements disagree" in line["look at"]


@pytest.mark.parametrize("shares", [(0.3, 0.5), (0.5, "natural")])
def test_two_mixture_shares_split_table_2_and_each_keeps_the_single_preference_rows(shares):
    records = [
        make_record(model="tiny_mistral", method="sft", preference=p, seed=s, metrics={"eval/mmlu/acc": v})
        for p, v in (("harmless", 0.3), ("helpful", 0.4))
        for s in range(2)
    ]
    for share, value in zip(shares, (0.5, 0.6), strict=True):
        for seed in range(2):
            record = make_record(model="tiny_mistral", method="sft", preference="mixed", seed=seed)
            record["config"]["dataset"]["mixture_harmless"] = share
            record["metrics"] = {"eval/mmlu/acc": value}
            records.append(restudy(record))
    tables = [t for t in study_tables(records_frame(records)) if t.name.startswith("mixture")]
    assert sorted(str(t.split["mixture_harmless"]) for t in tables) == sorted(map(str, shares))
    for table in tables:
        mixed = {shares[0]: "0.500 ± 0.000 (2)", shares[1]: "0.600 ± 0.000 (2)"}[table.split["mixture_harmless"]]
        column = table.display["MMLU"].xs("tiny_mistral", level="model")
        assert column.loc[("beavertails", "mixed")] == mixed
        assert column.loc[("beavertails", "harmless")] == "0.300 ± 0.000 (2)"  # in both parts, never averaged away
        assert column.loc[("beavertails", "helpful")] == "0.400 ± 0.000 (2)"
