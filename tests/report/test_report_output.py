"""The report's output is safe and atomic: CSV cells never run as formulas, record strings never land as raw HTML,
and the report folder is replaced whole or not at all."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from report_records import make_record, write_records

import alignbench.report.build as build
from alignbench.report import build_report
from alignbench.report.render import csv_cell, write_csv

SCRIPT = "<script>alert(1)</script>"


def _sweep(tmp_path, name="sweep", sweep="hand", figures=True):
    metrics = {"eval/mmlu/acc": 0.3, "eval/pref/accuracy": 0.6, "baseline/mmlu/acc": 0.25}
    if figures:  # AlpacaEval and RealToxicity as well: the trade-off figure has its two axes
        metrics |= {"eval/alpaca_eval/win_rate": 40.0, "eval/real_toxicity/score": 0.1}
    records = [
        make_record(method=m, seed=s, sweep=sweep, metrics={k: v + s / 100 for k, v in metrics.items()})
        for m in ("sft", "dpo")
        for s in range(2)
    ]
    return write_records(tmp_path / name, records)


def test_a_text_cell_that_starts_like_a_formula_is_quoted_and_numbers_stay_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "text": ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "-"],
            "value": [-0.335, 1.0, -2.0, 3.0, 0.0, -1e-9, 2.5, -7.0],
        }
    )
    path = write_csv(frame, tmp_path / "cells.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "plain",
        "'-",
    ]
    assert rows[0]["value"] == "-0.335"  # a negative number is a number, never quoted
    assert pd.read_csv(path)["value"].tolist() == frame["value"].tolist()
    assert csv_cell(-3) == -3 and csv_cell(-0.5) == -0.5


def test_every_csv_of_the_report_is_escaped(tmp_path):
    folder = _sweep(tmp_path, sweep="=cmd|' /C calc'!A0", figures=False)
    out = build_report([folder], tmp_path / "report").out
    written = [out / "results.csv", out / "runs.csv", out / "findings.csv", *sorted((out / "tables").glob("*.csv"))]
    for path in written:
        with path.open(newline="") as handle:
            for row in csv.reader(handle):
                assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row), (path, row)
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["sweep"]) == {"'=cmd|' /C calc'!A0"}
    main = pd.read_csv(out / "tables" / "main_lora.csv")
    assert pd.api.types.is_float_dtype(main["mean"])  # numbers stay numbers


def test_record_strings_never_land_as_raw_html(tmp_path):
    records = [
        make_record(method="sft", seed=s, sweep=SCRIPT, metrics={"eval/mmlu/acc": 0.3 + s / 100}) for s in range(2)
    ]
    records[0]["config"]["dataset"]["preference"] = "<b>bold</b>"  # a string shown inside a table cell
    from report_records import restudy

    restudy(records[0])
    out = build_report([write_records(tmp_path / "sweep", records)], tmp_path / "report").out
    pages = [out / "index.md", out / "index.html", *sorted((out / "tables").glob("*.md"))]
    for page in pages:
        text = page.read_text()
        assert "<script" not in text and "<b>bold" not in text, page
    md = (out / "index.md").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md and "&lt;b&gt;bold&lt;/b&gt;" in md
    assert "&lt;b&gt;bold&lt;/b&gt;" in (out / "tables" / "main_lora.md").read_text()


def test_the_html_page_comes_from_the_autoescaped_template(tmp_path):
    from alignbench.report.pages import _template

    template = _template()
    assert template.environment.autoescape is True and template.name == "index.html.j2"
    out = build_report([_sweep(tmp_path, sweep=SCRIPT, figures=False)], tmp_path / "report").out
    html = (out / "index.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_build_killed_midway_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    folder = _sweep(tmp_path)
    out = tmp_path / "report"
    build_report([folder], out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert (out / "index.html").is_file() and before

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as a Ctrl-C between the tables and the pages

    monkeypatch.setattr(build, "write_pages", killed)
    with pytest.raises(KeyboardInterrupt):
        build_report([folder], out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the previous report, every file as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "sweep"]  # no staging folder left behind


def test_a_rebuild_keeps_no_stale_figure(tmp_path):
    out = tmp_path / "report"
    build_report([_sweep(tmp_path)], out)
    assert (out / "figures" / "tradeoff.png").is_file()
    built = build_report([_sweep(tmp_path, name="fewer", figures=False)], out)
    assert not (out / "figures" / "tradeoff.png").exists()  # no AlpacaEval now: no trade-off figure, old or new
    drawn = {p.stem for p in (out / "figures").glob("*.png")}
    assert drawn == {f.name for f in built.figures if hasattr(f, "paths")}
    assert all(
        path.is_file() and path.parent == out / "figures"
        for f in built.figures
        if hasattr(f, "paths")
        for path in f.paths.values()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fewer", "report", "sweep"]


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a report folder"):
        build_report([_sweep(tmp_path, figures=False)], out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_leftovers_of_a_killed_build_are_cleared(tmp_path):
    stale = tmp_path / "report.tmp-999999999"  # no such process
    (stale / "tables").mkdir(parents=True)
    build_report([_sweep(tmp_path, figures=False)], tmp_path / "report")
    assert not stale.exists() and (tmp_path / "report" / "index.md").is_file()


def test_a_report_set_aside_by_a_build_killed_between_its_renames_is_put_back(tmp_path, monkeypatch):
    folder = _sweep(tmp_path, figures=False)
    out = tmp_path / "report"
    build_report([folder], out)
    (out / "marker").write_text("previous")
    out.rename(tmp_path / "report.old-999999999")  # what a kill between the two renames leaves
    monkeypatch.setattr(build, "write_pages", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        build_report([folder], out)
    assert (out / "marker").read_text() == "previous" and (out / "index.md").is_file()
