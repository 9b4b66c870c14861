"""Progress a person can read: a line per stage of a run, a sweep's "job 3/8 done, 2 failed, ETA ~12 min", library
bars off unless `-v`, one line for a config mistake, an interruption message that fits the command, console tables
through tabulate. The lines are checked through the functions that make them (no wall clock); the real console of
a run and a sweep is checked in test_messages.py and test_cli.py."""

from __future__ import annotations

import json
import signal
import sys
import time
import types
from types import SimpleNamespace

import pytest
from helpers import CONF, launch

from alignbench.__main__ import interrupted_message, one_line, take_verbose_flag
from alignbench.runs.console import VERBOSE, console_table, duration, library_bars_wanted
from alignbench.sweep.progress import sweep_progress


@pytest.mark.parametrize(
    "done, total, failed, elapsed, expected",
    [
        (1, 8, 0, 60.0, "sweep paper: job 1/8 done, ETA ~7 min"),  # 60 s a job, 7 left
        (3, 8, 2, 3 * 144.0, "sweep paper: job 3/8 done, 2 failed, ETA ~12 min"),
        (4, 5, 0, 40.0, "sweep paper: job 4/5 done, ETA ~10 s"),
        (2, 100, 0, 2 * 300.0, "sweep paper: job 2/100 done, ETA ~8.2 h"),
        (8, 8, 1, 999.0, "sweep paper: job 8/8 done, 1 failed"),  # the last: no ETA
    ],
)
def test_the_sweep_line_counts_jobs_and_failures_and_estimates_what_is_left(done, total, failed, elapsed, expected):
    assert sweep_progress("paper", done, total, failed, elapsed) == expected


def test_durations_are_rounded_to_what_a_person_reads():
    assert [duration(s) for s in (0.2, 40, 89, 90, 719, 5399, 5400, 36000)] == [
        "1 s",
        "40 s",
        "89 s",
        "2 min",
        "12 min",
        "90 min",
        "1.5 h",
        "10.0 h",
    ]


def test_the_sweeper_reports_each_job_as_it_ends_from_its_return_value(capsys):
    from alignbench.sweep.launch import Progress

    now = [100.0]
    progress = Progress("adhoc", 3, clock=lambda: now[0])
    outcomes = iter([{"status": "completed"}, {"status": "failed", "error": "ConfigError: x"}, RuntimeError("boom")])

    def job(cfg):
        now[0] += 10.0  # each job takes 10 s of the fake clock
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    watched = progress.watch(job)
    assert watched(None) == {"status": "completed"}
    watched(None)
    with pytest.raises(RuntimeError):  # re-raised: the launcher records it as the job's failure
        watched(None)
    assert capsys.readouterr().out.splitlines() == [
        "sweep adhoc: job 1/3 done, ETA ~20 s",
        "sweep adhoc: job 2/3 done, 1 failed, ETA ~10 s",
        "sweep adhoc: job 3/3 done, 2 failed",
    ]


def test_an_interrupted_job_is_not_counted(capsys):
    from alignbench.sweep.launch import Progress

    def job(cfg):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Progress("adhoc", 2, clock=lambda: 0.0).watch(job)(None)
    assert capsys.readouterr().out == ""


def test_an_interrupted_single_run_is_told_where_to_continue_it_and_a_sweep_to_relaunch(tmp_path):
    single = interrupted_message(["method=dpo"], tmp_path)
    assert "multirun" not in single and f"hydra.run.dir={tmp_path}" in single
    assert single.startswith("interrupted; ") and "relaunch the same command" in single
    sweep = interrupted_message(["-m", "method=sft,dpo"], None)
    assert sweep == "interrupted; relaunching the same multirun continues it without redoing finished runs"
    assert "multirun" not in interrupted_message(["method=dpo"], None)  # before the run had a directory


def test_dash_v_is_taken_off_the_command_line_and_turns_library_bars_on(monkeypatch):
    monkeypatch.setenv(VERBOSE, "")  # restored after the test, whatever take_verbose_flag sets
    assert take_verbose_flag(["method=dpo", "seed=1"]) == ["method=dpo", "seed=1"]
    assert not library_bars_wanted()
    assert take_verbose_flag(["-m", "-v", "method=sft,dpo", "--verbose"]) == ["-m", "method=sft,dpo"]
    assert library_bars_wanted()  # in the environment: a launcher's worker processes inherit it
    monkeypatch.setenv(VERBOSE, "0")
    assert not library_bars_wanted()


def test_a_one_line_config_error_reads_as_one_clean_line():
    from alignbench.config.rules import ConfigError

    message = "stages=[evaluate] needs a trained run in runs/x; it has no adapter for run_key abc"
    assert one_line(ConfigError(message)) == message  # no leading space


def test_a_library_error_that_names_a_config_mistake_is_a_config_failure(monkeypatch):
    from alignbench.runs.failures import Reason, reason_of

    class NoMatchingPeftModuleError(ValueError):
        pass

    errors = types.ModuleType("peft.utils.error")
    errors.NoMatchingPeftModuleError = NoMatchingPeftModuleError
    monkeypatch.setitem(sys.modules, "peft.utils.error", errors)
    try:
        try:
            raise NoMatchingPeftModuleError("Target modules {'nope'} not found in the base model.")
        except ValueError as err:
            raise RuntimeError("while building the trainer") from err
    except RuntimeError as err:
        assert reason_of(err) is Reason.config  # found along the chain of causes; no traceback, no "unexpected"
    assert reason_of(ValueError("x")) is Reason.error


def test_benchmark_lines_say_which_benchmark_of_how_many_and_on_which_model():
    from alignbench.evaluation.benchmarks import _stage

    context = SimpleNamespace(cfg=SimpleNamespace(eval=SimpleNamespace(benchmarks=["mmlu", "bbh"])), label="")
    assert _stage("bbh", "eval", context, ["mmlu", "bbh"]) == "alignbench: evaluate bbh 2/2"
    assert _stage("bbh", "baseline", context, ["bbh"]) == "alignbench: evaluate bbh 2/2 (the base model)"
    context.label = "step 50"
    assert _stage("mmlu", "eval", context, ["mmlu", "bbh"]) == "alignbench: evaluate mmlu 1/2 (step 50)"


def _config(*overrides: str):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from alignbench.config.schema import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return OmegaConf.to_object(compose("config", overrides=list(overrides)))


def test_the_training_line_says_method_steps_adapter_and_model():
    from alignbench.stages import training_line

    assert training_line(_config(), 249) == "train dpo 150 steps (lora r=16) on tiny_llama, 249 pairs"
    assert training_line(_config("method=base"), 0) == (
        "base: a fresh adapter (the unaligned base: nothing trained) on tiny_llama"
    )


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["method.optimizer=adamw_nope"], "method.optimizer=adamw_nope: not an optimizer"),
        (["method.trainer=nope"], "method.trainer=nope: no such trainer"),
        (["eval.benchmarks=[mmlu,nope]"], "eval.benchmarks: no benchmark ['nope']"),
        (["eval.at_steps=[50,999]"], "no adapter is saved at step 999"),
        (["method=merge"], "method=merge needs the runs it merges"),
    ],
)
def test_config_mistakes_only_the_libraries_know_are_found_before_the_run_starts(overrides, expected):
    from alignbench.preflight import library_problems

    (problem,) = library_problems(_config(*overrides))
    assert expected in problem
    assert library_problems(_config()) == []


def test_console_tables_align_text_cells_as_given():
    lines = console_table([["a", "0.600", "-"], ["longer", "1", "12.500"]], ["", "n", "x"], ("left", "right", "right"))
    assert lines == ["              n       x", "  a       0.600       -", "  longer      1  12.500"]
    two_levels = console_table([["r", "1/2"]], ["model\nrows", "llama\nsft"], indent="")
    assert two_levels == ["model  llama", "rows   sft", "r      1/2"]


@pytest.mark.slow
def test_an_interrupted_single_run_says_how_to_continue_it_in_its_own_directory(tmp_path):
    run_dir = tmp_path / "run"
    with launch("method.max_steps=400", "logger=none", f"hydra.run.dir={run_dir}") as process:
        deadline = time.monotonic() + 120
        while not (run_dir / "record.json").is_file():  # the run has started: its directory is claimed
            assert time.monotonic() < deadline and process.poll() is None, "the run never started"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        output = "".join(process.output())
    assert process.returncode in (130, -signal.SIGINT), output[-2000:]
    assert "same multirun" not in output
    assert f"relaunch the same command with hydra.run.dir={run_dir} to continue it" in output
    assert json.loads((run_dir / "record.json").read_text())["status"] == "interrupted"
