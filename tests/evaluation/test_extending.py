"""A benchmark added the way docs/extending.md "Adding a benchmark" says (a spec in SPECS naming a runner in its own
module) is run, printed, counted and tabled with no other change, and that section's file list is true."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
from helpers import REPO

from alignbench.config.benchmarks import SPECS, BenchmarkSpec

DOCS = REPO / "docs" / "extending.md"
TOY = BenchmarkSpec("toy", "toy_benchmark:run_toy", "hits", "Toy", "hit rate", 3, range=(0.0, 1.0))
RUNNER = """
from alignbench.evaluation.benchmarks.common import BenchmarkResult


def run_toy(model, tokenizer, settings, context):
    items = [{"prompt": f"q{i}", "output": "a", "score": int(i < settings.hits * 4)} for i in range(4)]
    return BenchmarkResult({"hits": settings.hits, "items": len(items)}, items, judge="exact match", source="toy items")
"""
# Where the toy benchmark went, as a new benchmark's files: its runner module, its spec, its settings (the config
# stand-in below holds what EvalConfig and conf/eval/paper.yaml would).
TOUCHED = {
    "alignbench/evaluation/benchmarks/<name>.py",
    "alignbench/config/benchmarks.py",
    "alignbench/config/schema.py",
    "conf/eval/paper.yaml",
}


@pytest.fixture
def toy(tmp_path, monkeypatch):
    (tmp_path / "toy_benchmark.py").write_text(RUNNER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SPECS, TOY.name, TOY)
    yield TOY
    sys.modules.pop("toy_benchmark", None)


def evaluated(tmp_path, hits: float, prefix: str) -> dict:
    from alignbench.evaluation.benchmarks import EvalContext, run_benchmarks

    cfg = SimpleNamespace(eval=SimpleNamespace(benchmarks=["toy"], toy=SimpleNamespace(hits=hits)))
    return run_benchmarks(None, None, EvalContext(cfg, tmp_path / prefix), prefix)


def test_a_new_benchmark_is_run_printed_counted_and_range_checked(toy, tmp_path):
    from alignbench.runs.console import benchmark_table
    from alignbench.runs.digest import out_of_range
    from alignbench.runs.metrics import headline_values
    from alignbench.runs.record import RunRecord

    trained, base = evaluated(tmp_path, 0.75, "eval"), evaluated(tmp_path, 0.5, "baseline")
    assert trained["errors"] == {} and (tmp_path / "eval" / "toy.jsonl").is_file()
    metrics = trained["metrics"] | base["metrics"]
    record = RunRecord(
        run_key="k",
        metrics=metrics,
        config={"eval": {"benchmarks": ["toy"]}},
        benchmarks={k: trained[k] for k in ("errors", "judges", "sources")},
    )
    lines = benchmark_table(record)
    assert lines[1].split() == ["toy", "hits", "0.500", "0.750", "4", "exact", "match"]
    assert headline_values(metrics) == {"toy": 0.75}
    assert out_of_range({"eval/toy/hits": 1.5}) == ["eval/toy/hits=1.5 outside [0, 1]"]
    assert out_of_range(metrics) == []


def test_a_new_benchmark_is_a_column_of_the_report(toy):
    from alignbench.report.results import records_frame
    from alignbench.report.tables import base_calibration, study_tables
    from alignbench.runs.study import study_coordinates

    records = []
    for seed, hits in enumerate([0.7, 0.8]):
        config = {
            "model": {"name": "tiny_llama", "kind": "pretrained"},
            "dataset": {"name": "beavertails", "preference": "harmless"},
            "method": {"name": "dpo", "max_steps": 4},
            "adapter": {"name": "lora", "r": 16, "alpha": 32},
            "quant": {"name": "none"},
            "seed": seed,
            "eval": {"benchmarks": ["toy"]},
        }
        records.append(
            {
                "run_key": f"k{seed}",
                "eval_key": "e0",
                "status": "completed",
                "run_dir": f"/runs/k{seed}",
                "choices": {"model": "tiny_llama", "dataset": "beavertails", "method": "dpo", "quant": "none"},
                "config": config,
                "metrics": {"eval/toy/hits": hits, "baseline/toy/hits": 0.5},
                "study": study_coordinates(config),
            }
        )
    frame = records_frame(records)
    main = next(t for t in study_tables(frame) if t.name == "main_lora")
    assert main.display.loc[("beavertails", "tiny_llama", "harmless"), "Toy"] == "0.750 ± 0.071 (2)"
    assert main.display.loc[("base", "tiny_llama", "unaligned"), "Toy"] == "0.500 (1)"
    bases = base_calibration(frame)  # no published value and no tolerance: shown, never flagged
    assert bases.display.loc[("tiny_llama", "none", "toy"), "Toy ours"] == "0.500"


def listed_files() -> list[str]:
    """The numbered list of docs/extending.md's "Adding a benchmark" section: each item's first `path`."""
    section = DOCS.read_text().split("## Adding a benchmark", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. `([^`]+)`", section, flags=re.M)


def test_the_documented_file_list_is_true():
    listed = listed_files()
    assert 0 < len(listed) <= 6, listed
    for path in listed:  # a file of the new benchmark's own: the folder it goes in exists
        where = REPO / path.split("<name>")[0] if "<name>" in path else REPO / path
        assert where.exists(), path
    assert TOUCHED <= set(listed), f"the toy benchmark touched {sorted(TOUCHED - set(listed))}, not listed"


def test_every_spec_names_a_runner_and_reading_specs_loads_no_torch():
    assert all(callable(spec.load()) for spec in SPECS.values())
    code = (
        "import sys, alignbench.config.benchmarks, alignbench.runs.console, alignbench.runs.metrics; "
        "print(sorted(m for m in ('torch', 'transformers', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
