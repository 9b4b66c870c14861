"""alignbench installed from a wheel runs outside the checkout, and its command line offers real options only."""

from __future__ import annotations

import os
import subprocess
import sys

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
    help_text = subprocess.run(
        [sys.executable, "-m", "alignbench", "--help"], cwd=REPO, capture_output=True, text=True
    ).stdout
    assert "model: llama, mistral" in help_text and "model_schema" not in help_text.split("schemas:")[0]
