"""`python -m alignbench.report` on a real tiny sweep plus edge-case records, as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import alignbench
from report_records import make_record, write_records

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def report(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return alignbench(*args, env=env, timeout=300, module="alignbench.report")


class Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [value for name, value in attrs if name in ("href", "src")]


@pytest.fixture(scope="module")
def written(tiny_sweep, edge_records, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "report"
    done = report(str(tiny_sweep), str(edge_records), "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_summary_counts_runs(written):
    _, stdout = written
    assert "report written to" in stdout
    assert "runs 11: 10 completed, 1 failed, 0 running or interrupted; 0 unreadable" in stdout


def test_cells_match_a_hand_computation_on_the_records(tiny_sweep, written):
    out, _ = written
    records = [json.loads(p.read_text()) for p in tiny_sweep.rglob("record.json")]
    assert len(records) == 8 and {r["status"] for r in records} == {"completed"}
    cells = pd.read_csv(out / "tables" / "main_lora.csv")
    for model in ("tiny_llama", "tiny_mistral"):
        for method in ("sft", "dpo"):
            values = [
                r["metrics"]["eval/mmlu/acc"]
                for r in records
                if r["choices"]["model"] == model and r["choices"]["method"] == method
            ]
            if model == "tiny_llama" and method == "dpo":
                values.append(0.5)  # the edge record whose BBH could not run still has its MMLU
            row = cells.query(
                "model == @model and method == @method and preference == 'harmless' and benchmark == 'mmlu'"
            ).iloc[0]
            assert row["n"] == len(values)
            assert row["mean"] == pytest.approx(np.mean(values))
            assert row["std"] == pytest.approx(np.std(values, ddof=1))
    failed = cells.query("model == 'tiny_llama' and method == 'sft' and benchmark == 'mmlu'").iloc[0]
    assert (failed["n"], failed["failed"]) == (2, 1)  # the failed seed is counted, never averaged
    missing = cells.query("model == 'tiny_mistral' and method == 'dpo' and preference == 'helpful'")
    assert missing["n"].eq(0).all() and missing["mean"].isna().all()
    md = (out / "tables" / "main_lora.md").read_text()
    assert "| beavertails | tiny_mistral | helpful      |" in md and "0.300 (1) / —" in md
    assert "bbh" not in set(cells["benchmark"])  # the one BBH that ran nowhere is not a 0 column


def test_every_file_is_written_and_the_pages_have_no_broken_links(written):
    out, _ = written
    drawn = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert drawn == ["sft_vs_dpo"]  # MMLU only and two pre-trained models: the other figures have no runs
    for path in (out / "figures").iterdir():
        assert path.stat().st_size > 5_000
    parser = Refs()
    parser.feed((out / "index.html").read_text())
    assert parser.refs and all(ref.startswith("data:image/png;base64,") for ref in parser.refs)
    targets = re.findall(r"\]\(([^)]+)\)", (out / "index.md").read_text())
    assert len(targets) > 10
    assert [t for t in targets if not (out / t).is_file()] == []
    findings = pd.read_csv(out / "findings.csv")
    assert set(findings["finding"]) == {f"P{i}" for i in range(1, 9)}
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["runs"] == 11 and "torch" in provenance["versions"]


def test_bad_input_is_one_line_naming_it(tmp_path):
    done = report(str(tmp_path / "nowhere"))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"alignbench.report: {tmp_path / 'nowhere'}: no such file or directory"]
    (tmp_path / "empty").mkdir()
    done = report(str(tmp_path / "empty"))
    assert done.returncode != 0 and done.stderr.strip().splitlines() == [
        f"alignbench.report: {tmp_path / 'empty'}: no record.json in it or below it"
    ]


def test_unreadable_record_is_named_skipped_and_counted(tmp_path):
    write_records(tmp_path / "sweep", [make_record(seed=s, metrics={"eval/mmlu/acc": 0.3}) for s in range(2)])
    bad = tmp_path / "sweep" / "bad" / "record.json"
    bad.parent.mkdir()
    bad.write_text("{truncated")
    done = report(str(tmp_path / "sweep"))
    assert done.returncode == 0
    assert str(bad) in done.stderr and "unreadable" in done.stderr
    assert "1 unreadable records skipped" in done.stdout
    assert (tmp_path / "sweep" / "report" / "index.html").is_file()


def test_old_and_newer_records_are_said_in_one_line_each(tmp_path):
    """A record from before study blocks is read with its axes derived (and said so); one from a newer alignbench
    is skipped with a line naming it, never guessed at."""
    records = [make_record(seed=s, metrics={"eval/mmlu/acc": 0.3}) for s in range(2)]
    records.append(make_record(seed=2, metrics={"eval/mmlu/acc": 0.3}, study=False))
    newer = make_record(seed=3, metrics={"eval/mmlu/acc": 0.9})
    newer["study"]["version"] = 99
    write_records(tmp_path / "sweep", [*records, newer])
    done = report(str(tmp_path / "sweep"))
    assert done.returncode == 0, done.stderr
    assert "1 old records (no study block): axes derived from their config" in done.stdout
    (line,) = [line for line in done.stderr.splitlines() if newer["run_key"] in line]
    assert "study block version 99 is newer than this alignbench (1)" in line
    assert "runs 3: 3 completed" in done.stdout


def test_the_report_command_imports_no_torch(tmp_path):
    write_records(tmp_path / "sweep", [make_record(seed=s, metrics={"eval/mmlu/acc": 0.3}) for s in range(2)])
    code = (
        "import runpy, sys; sys.argv = ['alignbench.report', sys.argv[1]]\n"
        "try:\n    runpy.run_module('alignbench.report', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'trl', 'peft'))\n"
        "print('HEAVY', heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "sweep")], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert "report written to" in done.stdout, done.stderr[-2000:]
    assert "HEAVY []" in done.stdout


def test_wandb_publishes_offline_files(tmp_path):
    write_records(
        tmp_path / "sweep",
        [
            make_record(method=m, seed=s, metrics={"eval/mmlu/acc": 0.3 + s / 10})
            for s in range(2)
            for m in ("sft", "dpo")
        ],
    )
    done = report(str(tmp_path / "sweep"), "--wandb", env={"WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "published to group sweep (offline" in done.stdout
    runs = list((tmp_path / "sweep" / "report" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 1_000
