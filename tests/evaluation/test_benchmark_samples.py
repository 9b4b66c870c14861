"""The bundled benchmark miniatures: exact upstream raw schemas, correct answers, reproducible bytes, and the
local lm-eval tasks (mmlu_sample, bbh_sample) that read them offline from any working directory."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "alignbench" / "data" / "samples" / "benchmarks"
PAPER_EVAL = yaml.safe_load((REPO / "conf" / "eval" / "paper.yaml").read_text())
TASKS = REPO / "alignbench" / "evaluation" / "tasks"
MMLU_SUBJECTS = ["elementary_mathematics", "high_school_biology", "high_school_geography", "world_religions"]
BBH_SUBTASKS = ["boolean_expressions", "date_understanding", "sports_understanding"]
RTP_ATTRIBUTES = {
    "text",
    "toxicity",
    "profanity",
    "sexually_explicit",
    "flirtation",
    "identity_attack",
    "threat",
    "insult",
    "severe_toxicity",
}


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_mmlu_rows_have_the_cais_mmlu_schema():
    test, dev = jsonl(BENCH / "mmlu/test.jsonl"), jsonl(BENCH / "mmlu/dev.jsonl")
    for row in test + dev:
        assert list(row) == ["question", "subject", "choices", "answer"]
        assert isinstance(row["question"], str) and row["question"].strip()
        assert row["subject"] in MMLU_SUBJECTS
        assert len(row["choices"]) == 4 and all(isinstance(c, str) and c for c in row["choices"])
        assert len(set(row["choices"])) == 4
        assert type(row["answer"]) is int and 0 <= row["answer"] <= 3
    assert len(test) >= 40 and Counter(r["subject"] for r in dev) == dict.fromkeys(MMLU_SUBJECTS, 5)
    assert Counter(r["answer"] for r in test) == {0: 10, 1: 10, 2: 10, 3: 10}  # no position bias to exploit
    assert not {r["question"] for r in test} & {r["question"] for r in dev}


@pytest.mark.parametrize("subtask", BBH_SUBTASKS)
def test_bbh_rows_have_the_lukaemon_bbh_schema(subtask):
    rows = jsonl(BENCH / f"bbh/{subtask}.jsonl")
    assert len(rows) >= 15
    for row in rows:
        assert list(row) == ["input", "target"] and all(isinstance(v, str) and v for v in row.values())
    assert len({r["input"] for r in rows}) == len(rows)


def test_bbh_answers_are_correct():
    for row in jsonl(BENCH / "bbh/boolean_expressions.jsonl"):
        expr = row["input"].removesuffix(" is")
        assert set(expr.split()) <= {"True", "False", "not", "and", "or", "(", ")"}
        assert row["target"] == str(eval(expr))  # noqa: S307 - the token set is checked just above
    assert {r["target"] for r in jsonl(BENCH / "bbh/sports_understanding.jsonl")} == {"yes", "no"}
    for row in jsonl(BENCH / "bbh/date_understanding.jsonl"):
        options = dict(re.findall(r"^(\([A-F]\)) (\d\d/\d\d/\d{4})$", row["input"], flags=re.M))
        assert row["target"] in options and len(set(options.values())) == len(options) >= 5
        for date in options.values():
            dt.datetime.strptime(date, "%m/%d/%Y")


def test_real_toxicity_prompts_rows_have_the_allenai_schema():
    rows = jsonl(BENCH / "real_toxicity_prompts/prompts.jsonl")
    assert len(rows) >= 60
    for row in rows:
        assert list(row) == ["filename", "begin", "end", "challenging", "prompt", "continuation"]
        assert isinstance(row["filename"], str) and row["filename"].endswith(".txt")
        assert type(row["begin"]) is int and type(row["end"]) is int and row["begin"] < row["end"]
        assert type(row["challenging"]) is bool
        for part in ("prompt", "continuation"):
            assert set(row[part]) == RTP_ATTRIBUTES and isinstance(row[part]["text"], str) and row[part]["text"]
            for key in RTP_ATTRIBUTES - {"text"}:
                value = row[part][key]
                assert value is None or (type(value) is float and 0.0 <= value <= 1.0)
    toxicity = [r["prompt"]["toxicity"] for r in rows]
    assert toxicity.count(None) >= 3  # a selector must skip the rows Perspective did not score
    scored = [t for t in toxicity if t is not None]
    assert sum(t >= 0.5 for t in scored) >= 15 and sum(t < 0.2 for t in scored) >= 30


def test_dangerousqa_is_a_json_list_of_questions():
    questions = json.loads((BENCH / "dangerousqa/questions.json").read_text())
    assert isinstance(questions, list) and len(questions) == 24 == len(set(questions))
    assert all(isinstance(q, str) and q.endswith("?") for q in questions)


def test_our_cou_miniature_has_the_upstream_structure_but_not_its_text():
    template = (BENCH / "red_instruct/cou_template.txt").read_text()
    assert template.startswith("-Example-\n\nGiven the conversation:") and template.endswith("\n\nBase-LM:\n")
    assert template.count("<question>") == 1  # red-instruct fills it with ctx.replace('<question>', q.strip())
    assert "(Internal thought:" in template and "-Task-" in template
    # Upstream's prompt is fetched pinned into the cache when used (conf/eval/paper.yaml), never shipped: ours differs.
    assert hashlib.sha256(template.encode()).hexdigest() != PAPER_EVAL["red_instruct"]["template"]["sha256"]


def test_alpaca_eval_items_have_the_tatsu_lab_schema():
    items = json.loads((BENCH / "alpaca_eval/alpaca_eval_gpt4_baseline.json").read_text())
    assert len(items) >= 30
    for item in items:
        assert list(item) == ["instruction", "output", "generator", "dataset"]
        assert item["generator"] == "gpt4_1106_preview" and all(isinstance(v, str) and v for v in item.values())
    assert {i["dataset"] for i in items} == {"helpful_base", "koala", "oasst", "selfinstruct", "vicuna"}


def test_the_generator_reproduces_the_bundled_files_byte_for_byte(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "scripts/make_benchmark_samples.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    bundled = sorted(p.relative_to(BENCH) for p in BENCH.rglob("*") if p.is_file())
    assert made == bundled
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (BENCH / rel).read_bytes(), rel
    assert sum((BENCH / rel).stat().st_size for rel in bundled) < 200_000


@pytest.fixture
def task_manager(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # data_files resolve against alignbench/evaluation/tasks/, not the working directory
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS), include_defaults=False)


def test_lm_eval_loads_the_local_tasks_offline(task_manager):
    loaded = task_manager.load(["mmlu_sample", "bbh_sample"])
    assert set(loaded["groups"]) == {"mmlu_sample", "bbh_sample"}
    tasks = loaded["tasks"]
    assert set(tasks) == {f"mmlu_sample_{s}" for s in MMLU_SUBJECTS} | {f"bbh_sample_{s}" for s in BBH_SUBTASKS}

    rows = jsonl(BENCH / "mmlu/test.jsonl")
    for subject in MMLU_SUBJECTS:
        task = tasks[f"mmlu_sample_{subject}"]
        docs = list(task.test_docs())
        assert len(docs) == sum(r["subject"] == subject for r in rows) and {d["subject"] for d in docs} == {subject}
        assert [d["subject"] for d in task.fewshot_docs()] == [subject] * 5  # few-shot stays within the subject
        assert task.doc_to_text(docs[0]).endswith("\nD. " + docs[0]["choices"][3] + "\nAnswer:")
    assert sum(len(tasks[f"mmlu_sample_{s}"].test_docs()) for s in MMLU_SUBJECTS) == len(rows)

    for subtask in BBH_SUBTASKS:
        task = tasks[f"bbh_sample_{subtask}"]
        docs = list(task.test_docs())
        assert docs == jsonl(BENCH / f"bbh/{subtask}.jsonl")
        assert task.doc_to_text(docs[0]) == f"Q: {docs[0]['input']}\nA:"
        assert task.config.num_fewshot == 0 and task.config.output_type == "generate_until"
