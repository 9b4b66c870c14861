"""A report a researcher reads at a glance: the paper's tables show the rows with runs of ours (all rows behind a
toggle), tiny stand-ins are never compared with 7B numbers, held-out preference accuracy is in the main table,
figures say n per point and draw no error bar for one seed, provenance is a table of what differs."""

from __future__ import annotations

import re

import pytest
from matplotlib.container import ErrorbarContainer
from report_records import make_record, write_records

from alignbench.report import build_report
from alignbench.report.figures import sft_vs_dpo, tradeoff
from alignbench.report.results import records_frame
from alignbench.report.tables import MISSING, paper_tables, study_tables

METRICS = {"eval/mmlu/acc": 0.30, "eval/pref/accuracy": 0.62, "baseline/mmlu/acc": 0.25, "baseline/pref/accuracy": 0.5}


def _records():
    """tiny_llama (a stand-in for llama): SFT with 3 seeds, DPO with one; a real mistral run (joins with a Δ)."""
    records = [
        make_record(method="sft", seed=s, metrics={k: v + s / 100 * k.startswith("eval") for k, v in METRICS.items()})
        for s in range(3)
    ]
    records.append(make_record(method="dpo", seed=0, metrics=METRICS))
    records.append(make_record(model="mistral", method="sft", seed=0, metrics={"eval/mmlu/acc": 0.55}))
    return records


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("glance")
    return build_report([write_records(root / "sweep", _records())], root / "report")


def _section(text: str, title: str, end: str) -> str:
    start = text.index(title)
    return text[start : text.index(end, start + len(title))]


def test_the_paper_tables_show_only_rows_with_runs_and_all_rows_behind_a_toggle(built):
    table5 = next(t for t in built.tables if t.name == "paper_table5")
    assert len(table5.display) == 16 and len(table5.brief) == 3  # llama sft, llama dpo, mistral sft
    assert set(table5.brief.index.get_level_values("model")) == {"llama", "mistral"}
    html = (built.out / "index.html").read_text()
    section = _section(html, "Paper Table 5 (LoRA) beside ours", "<h3>")
    brief, full = section.split("<details>")
    assert "<summary>show all 16 rows</summary>" in full
    assert brief.count("<tr>") == 1 + 3 and full.count("<tr>") == 1 + 16  # header + rows
    md = (built.out / "index.md").read_text()
    rows = [line for line in _section(md, "### Paper Table 5", "###").splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 3  # header and the rows with runs (the rule starts with |:)
    assert (built.out / "tables" / "paper_table5.md").read_text().count("\n| ") == 1 + 16  # the file keeps all


def test_a_stand_in_join_carries_a_caveat_and_no_delta_a_real_model_its_delta(built):
    table5 = next(t for t in built.tables if t.name == "paper_table5")
    tiny = table5.display.loc[("beavertails", "llama", "harmless", "", "sft")]
    assert tiny["MMLU ours"] != MISSING and tiny["MMLU Δ"] == MISSING and tiny["caveat"] == "tiny stand-in, no Δ"
    real = table5.display.loc[("beavertails", "mistral", "harmless", "", "sft")]
    assert real["MMLU Δ"] != MISSING and real["caveat"] == ""
    cells = table5.cells
    assert cells.loc[cells["stand_in"] & cells["ours"].notna(), "diff"].isna().all()
    assert cells.loc[~cells["stand_in"] & cells["ours"].notna(), "diff"].notna().all()
    assert "MMLU Δ" in table5.brief.columns  # the real model's Δ is shown
    for page in ("index.md", "index.html"):
        text = (built.out / page).read_text()
        assert "tiny stand-in, no Δ" in text and "never compared with" in text
        assert "Tiny stand-ins (tiny_llama for llama)" in text  # said at the top as well


def test_a_table_of_stand_ins_only_shows_no_delta_column():
    (table,) = [t for t in paper_tables(records_frame(_records()[:4])) if t.name == "paper_table5"]
    assert list(table.brief.columns) == ["caveat", "MMLU ours", "MMLU paper"]


def test_held_out_preference_accuracy_is_a_column_of_the_main_table(built):
    main = next(t for t in built.tables if t.name == "main_lora")
    assert list(main.display.columns)[0] == "Pref. acc. (held-out)"
    cell = main.display.loc[("beavertails", "tiny_llama", "harmless"), "Pref. acc. (held-out)"]
    assert cell == "0.630 ± 0.010 (3) / 0.620 (1)"  # SFT / DPO
    assert main.display.loc[("base", "tiny_llama", "unaligned"), "Pref. acc. (held-out)"] == "0.500 (1)"
    assert "Pref. acc. (held-out)" in (built.out / "index.html").read_text()


def _spread_points(ax) -> int:
    """How many points carry an error bar (one segment each, in y)."""
    found = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    return sum(len(segments.get_segments()) for c in found for segments in c.lines[2][-1:])


def _labels(ax) -> list[str]:
    return sorted(t.get_text() for t in ax.texts if t.get_text().startswith("n="))


def test_bars_say_n_and_draw_no_error_bar_for_one_seed():
    fig = sft_vs_dpo(records_frame(_records()[:4]))
    ax = fig.axes[0]  # MMLU: SFT with 3 seeds, DPO with 1
    assert _labels(ax) == ["n=1", "n=3"]
    assert _spread_points(ax) == 1  # only the 3-seed bar


def test_the_trade_off_point_of_one_seed_has_no_error_bar():
    extra = {"eval/alpaca_eval/win_rate": 40.0, "eval/real_toxicity/score": 0.1}
    records = [make_record(method="sft", seed=s, metrics={k: v + s for k, v in extra.items()}) for s in range(2)]
    records.append(make_record(method="dpo", seed=0, metrics=extra))
    ax = tradeoff(records_frame(records)).axes[0]
    assert _labels(ax) == ["n=1", "n=2"]
    found = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(found) == 1 and len(found[0].lines[2][0].get_segments()) == 1  # the 2-seed point only


def test_provenance_is_a_table_of_what_differs_not_raw_json(built):
    html = (built.out / "index.html").read_text()
    md = (built.out / "index.md").read_text()
    assert "```json" not in md and "<pre>" not in html
    section = _section(html, "<h2>Provenance</h2>", "</details>")
    assert "What differs between runs" in section
    assert re.search(
        r"<td>model\.name</td><td>&#39;tiny_llama&#39; \(4 runs\) · &#39;mistral&#39; \(1 run\)</td>", section
    )
    assert "shared by all runs" in section and "dataset.name=&#39;beavertails&#39;" in section
    assert "| model.name" in md and "`dataset.name='beavertails'`" in md
    assert (built.out / "provenance.json").is_file()


def test_every_table_of_the_page_scrolls_in_its_own_box(built):
    html = (built.out / "index.html").read_text()
    assert html.count("<table") == html.count('<div class="scroll"><table')
    assert 'name="viewport"' in html


def test_main_tables_have_no_toggle(built):
    assert all(t.brief is None for t in study_tables(records_frame(_records())) if hasattr(t, "display"))
