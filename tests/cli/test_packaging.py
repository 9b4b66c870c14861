"""alignbench installed from a wheel runs outside the checkout, and its command line offers real options only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import CONF, REPO


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_composes_the_configs(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path / "wheel")],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("alignbench-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import alignbench; print(alignbench.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))  # the installed copy, not the checkout
    job = subprocess.run(
        [sys.executable, "-m", "alignbench", "method=sft", "--cfg", "job"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert job.returncode == 0, job.stderr[-2000:]
    assert "name: sft" in job.stdout and "trainer: sft" in job.stdout
    shipped = {p.relative_to(site / "alignbench" / "conf") for p in (site / "alignbench" / "conf").rglob("*.yaml")}
    assert shipped == {p.relative_to(CONF) for p in CONF.rglob("*.yaml") if "local" not in p.parts}


def test_completion_and_help_list_real_options_only():
    env = {**os.environ, "COMP_LINE": "alignbench model="}
    done = subprocess.run(
        [sys.executable, "-m", "alignbench", "-sc", "query=bash"], cwd=REPO, env=env, capture_output=True, text=True
    )
    offered = set(done.stdout.split())
    assert offered == {f"model={p.stem}" for p in (CONF / "model").glob("*.yaml")}, done.stdout + done.stderr
    env["COMP_LINE"] = "alignbench method=sft "  # a new word: groups and keys, no schema or router
    done = subprocess.run(
        [sys.executable, "-m", "alignbench", "-sc", "query=bash"], cwd=REPO, env=env, capture_output=True, text=True
    )
    offered = set(done.stdout.split())
    assert {"model=", "method=", "eval=", "judge=", "sweep="} <= offered, done.stdout + done.stderr
    assert not [word for word in offered if "schema" in word or "by_model" in word], offered
    help_text = subprocess.run(
        [sys.executable, "-m", "alignbench", "--help"], cwd=REPO, capture_output=True, text=True
    ).stdout
    assert "model: llama, mistral" in help_text and "eval: paper, sample\n" in help_text
    assert not [word for word in ("schema", "by_model", "preset:", "preset/") if word in help_text], help_text


@pytest.mark.slow
def test_the_alignbench_command_works_like_python_m_alignbench_from_any_folder(tmp_path, tiny_cache):
    """The console script the Quick start advertises: help, --cfg, completion, a dry-run multirun and a real run,
    called as installed (.venv/bin/alignbench), from a folder outside the checkout."""
    command = str(Path(sys.executable).with_name("alignbench"))

    def call(*args, env=None):
        return subprocess.run(
            [command, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **(env or {})},
        )

    assert "model: llama, mistral" in call("--help").stdout
    assert "trainer: sft" in call("method=sft", "--cfg", "job").stdout
    offered = set(call("-sc", "query=bash", env={"COMP_LINE": "alignbench method="}).stdout.split())
    assert "method=dpo" in offered and "method=sft" in offered
    plan = call("-m", "sweep=paper_tiny", "dry_run=true")
    assert plan.returncode == 0 and "dry run: 32 jobs" in plan.stdout, plan.stderr[-2000:]
    run = call("method.max_steps=2", "eval.benchmarks=[]", "dataset.eval_samples=8", "logger=none", "hydra.run.dir=run")
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "record.json").read_text())["status"] == "completed"
