"""One cell = one configuration, through the pipeline: sweeps that differ in the adapter or in the evaluation give
separate, labelled tables; the tiny merge sweep's records fill the paper's Table 3."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
from helpers import alignbench
from report_records import write_records

from alignbench.report.results import load_runs
from alignbench.report.tables import MERGE_ROWS, merge_tables, parts, study_tables
from alignbench.runs.study import cell_of

pytestmark = pytest.mark.slow
SMALL = ["method.max_steps=3", "dataset.eval_samples=16", "eval.generations=1", "logger=none"]


def sweep(folder: Path, *overrides: str) -> Path:
    done = alignbench("-m", *overrides, *SMALL, f"hydra.sweep.dir={folder}", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def test_lora_and_dora_runs_are_separate_tables(tmp_path, tiny_cache):
    overrides = ["model=tiny_llama", "method=sft", "adapter=lora,dora", "seed=0,1", "eval.benchmarks=[mmlu]"]
    folder = sweep(tmp_path / "adapters", *overrides)
    records = [json.loads(p.read_text()) for p in folder.rglob("record.json")]
    assert sorted(r["study"]["adapter"] for r in records) == ["dora", "dora", "lora", "lora"]
    assert len({r["study"]["cell"] for r in records}) == 2  # two configurations, two seeds each
    tables = {t.name: t for t in study_tables(load_runs(folder)) if hasattr(t, "display")}
    assert {"main_lora", "main_dora"} <= set(tables)
    for name in ("main_lora", "main_dora"):
        assert tables[name].cells.query("benchmark == 'mmlu' and method == 'sft'")["n"].tolist() == [2]


def test_two_eval_settings_are_split_and_said(tmp_path, tiny_cache):
    common = ["model=tiny_llama", "method=sft", "seed=0,1", "eval.benchmarks=[mmlu]"]
    zero = sweep(tmp_path / "zero", *common, "eval.mmlu.num_fewshot=0")
    one = sweep(tmp_path / "one", *common, "eval.mmlu.num_fewshot=1")
    frame = load_runs([zero, one])
    tables = [t for t in study_tables(frame) if t.name.startswith("main_lora")]
    assert [t.split for t in tables] == [{"eval_settings": "mmlu 0-shot"}, {"eval_settings": "mmlu 1-shot"}]
    for table in tables:
        assert table.cells.query("benchmark == 'mmlu'")["n"].tolist() == [2]
        assert table.title.endswith(f"[eval_settings={table.split['eval_settings']}]")
    from alignbench.report import build_report

    built = build_report([zero, one], tmp_path / "report")
    assert built.summary["splits"] == ["eval_settings: 2 values (mmlu 0-shot; mmlu 1-shot)"]
    assert "never averaged: eval_settings: 2 values" in (tmp_path / "report" / "index.md").read_text()


@pytest.fixture(scope="module")
def merge_sweeps(tmp_path_factory, tiny_cache) -> tuple[Path, Path]:
    """The inputs (SFT and DPO x harmless and helpful on tiny_mistral, QLoRA) and the tiny merge sweep on them."""
    root = tmp_path_factory.mktemp("merge")
    benchmarks = "eval.benchmarks=[mmlu,bbh,alpaca_eval,real_toxicity]"
    # A few items per benchmark: the tables need each number to exist, not to be precise (4-bit is slow on CPU).
    items = ["eval.mmlu.limit=5", "eval.bbh.limit=5", "eval.alpaca_eval.limit=10", "eval.real_toxicity.limit=10"]
    common = ["model=tiny_mistral", "quant=nf4", "dataset=beavertails", "seed=0", benchmarks, *items]
    inputs = sweep(root / "inputs", *common, "method=sft,dpo", "dataset.preference=harmless,helpful")
    merges = sweep(root / "merges", "sweep=merge_tiny", *common, f"sweep.inputs_dir={inputs}")
    return inputs, merges


def test_the_tiny_merge_sweep_joins_the_mistral_column_of_table_3(merge_sweeps):
    (table,) = merge_tables(load_runs(merge_sweeps), _runs(merge_sweeps))
    rows = table.cells[table.cells["paper"].notna()]
    # Mistral-7B's published Table 3: BBH, AlpacaEval, RealToxicity for the 4 inputs and the 5 merges.
    assert len(rows) == 27 and rows["n"].eq(1).all()
    assert table.counts["joined"] == table.counts["published"] == 27
    assert table.counts["missing"] == 0  # SLERP of all four, never run by the paper, is never expected
    assert set(rows["row"]) == set(MERGE_ROWS)


def test_table_3_joins_all_30_published_merge_cells(merge_sweeps, tmp_path):
    """The sweep's own records, placed in the paper's cells: both Mistral models, BeaverTails, QLoRA."""
    records = [json.loads(p.read_text()) for folder in merge_sweeps for p in folder.rglob("record.json")]
    placed = []
    for model, kind in (("mistral", "pretrained"), ("mistral_instruct", "instruct")):
        for record in records:
            copied = copy.deepcopy(record) | {"run_key": uuid.uuid4().hex[:16]}
            copied["study"] |= {"model": model, "paper_model": model, "kind": kind}
            copied["study"]["cell"] = cell_of(copied["study"])
            placed.append(copied)
    folder = write_records(tmp_path / "placed", placed)
    (table,) = merge_tables(load_runs(folder), _runs([folder]))
    merges = table.cells[table.cells["row"].str.startswith(("SLERP", "DARE")) & table.cells["paper"].notna()]
    assert len(merges) == 30 and merges["n"].eq(1).all()  # 5 merges x 3 benchmarks x 2 models
    assert table.counts["joined"] == table.counts["published"] == 54


def _runs(folders):
    from alignbench.report.results import own_rows, runs_of

    return runs_of(own_rows(load_runs(folders)))


def test_parts_never_put_two_configurations_in_one_place(merge_sweeps):
    runs = _runs(merge_sweeps)
    for part in parts(runs, ["method"]):
        assert part.runs.groupby("method")["cell"].nunique().max() == 1
