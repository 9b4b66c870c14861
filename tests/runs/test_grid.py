"""Planning a grid without training: the study's sweeps, run keys, run-directory states, locks, launchers, status."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from helpers import CONF, alignbench
from omegaconf import OmegaConf

from alignbench.report.status import main as status_main
from alignbench.runs.keys import resolve, run_key
from alignbench.runs.state import Job, Status, claim, is_locked, status_of

PAPER_AXES = {
    "dataset": ["hh_rlhf", "beavertails"],
    "dataset.preference": ["harmless", "helpful"],
    "method": ["sft", "dpo"],
    "model": ["llama", "vicuna", "mistral", "mistral_instruct"],
    "quant": ["none", "nf4"],
    "seed": ["0", "1", "2", "3", "4"],
}


def plan(*args: str) -> tuple[list[tuple[str, str, dict]], str]:
    """Run a dry run; return (run_key, status, axes) per job and the summary (its line and the notes under it)."""
    done = alignbench("-m", *args, "dry_run=true", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("dry run:"))
    jobs = []
    for line in lines[:at]:
        key, status, *axes = line.split("  (")[0].split()
        jobs.append((key, status, dict(a.split("=", 1) for a in axes if "=" in a)))
    return jobs, "\n".join(lines[at:])


@pytest.fixture(scope="module")
def paper_plan():
    return plan("sweep=paper")


def test_paper_sweep_plans_the_full_factorial_with_distinct_keys(paper_plan):
    jobs, summary = paper_plan
    assert len(jobs) == 320 and len({key for key, _, _ in jobs}) == 320
    cells = {tuple(axes[a] for a in PAPER_AXES) for _, _, axes in jobs}
    assert cells == set(itertools.product(*PAPER_AXES.values()))
    assert {status for _, status, _ in jobs} == {"pending"}
    assert "320 jobs in multirun/paper" in summary and "a launch would run 320" in summary


def test_a_dry_run_says_what_cannot_start_here_and_what_the_sweep_costs(paper_plan):
    _, summary = paper_plan  # tests run with HF_HUB_OFFLINE=1 and no GPU: nothing of the paper can start here
    assert "320 of the 320 runs to do cannot start on this machine:" in summary
    assert "320 runs: method.optimizer=paged_adamw_32bit pages optimizer state to GPU memory and needs CUDA" in summary
    for model in ("llama", "vicuna", "mistral", "mistral_instruct"):
        assert f"80 runs: model '{model}'" in summary
    assert "160 runs: dataset 'hh_rlhf'" in summary and "160 runs: dataset 'beavertails'" in summary
    # SFT 15/20 min and DPO 60/90 min per 700 steps on BeaverTails/HH-RLHF, 80 runs of each: 14,800 min.
    assert "estimated training time of the 320 runs to do: 246.7 GPU-hours on one A100 40GB" in summary


def test_a_tiny_plan_can_start_here_and_costs_no_gpu_time():
    jobs, summary = plan("sweep=paper_tiny")
    assert len(jobs) == 32 and "cannot start" not in summary and "GPU-hours" not in summary


def test_planned_keys_equal_the_keys_of_fully_composed_jobs(paper_plan, compose):
    """The planner composes once per group combination; every job must still get its own full config's key."""
    jobs, _ = paper_plan
    for key, _, axes in random.Random(0).sample(jobs, 6):
        config = compose(["sweep=paper", *(f"{a}={v}" for a, v in axes.items())])
        assert run_key(resolve(config)) == key, axes


def test_a_cell_gets_the_papers_settings(compose):
    config = compose(
        [
            "sweep=paper",
            "model=mistral",
            "method=dpo",
            "quant=nf4",
            "dataset=hh_rlhf",
            "dataset.preference=helpful",
            "seed=3",
        ]
    )
    assert config.method.max_steps == 700 and config.method.beta == 0.1 and config.adapter.r == 16
    assert config.dataset.data_dir == "helpful-base" and not config.dataset.sample
    assert config.quant.bits == 4 and config.sweep.name == "paper"
    assert config.dataset.selection == "per_seed"  # each seed samples its own pairs (sweep/study.yaml)


@pytest.mark.parametrize("sweep", [path.stem for path in (CONF / "sweep").glob("paper*.yaml")])
def test_every_grid_of_the_study_samples_pairs_per_seed_and_a_single_run_keeps_them_fixed(compose, sweep):
    assert compose([f"sweep={sweep}"]).dataset.selection == "per_seed"
    assert compose([]).dataset.selection == "fixed"


def test_per_seed_selection_is_in_the_run_key_and_fixed_keeps_the_keys_runs_had_before_the_choice(compose):
    fixed, per_seed = (run_key(resolve(compose([f"dataset.selection={s}"]))) for s in ("fixed", "per_seed"))
    assert fixed != per_seed
    assert fixed == "0f53c286ed7d7eb7"  # tiny_llama's default run (tests/config/test_routing.py), as before


def test_sft_set_as_before_its_loss_and_eos_were_keys_keeps_its_run_key(compose):
    before = ["method=sft", "method.sft_loss=completion", "method.packing=false", "method.train_eos=true"]
    assert run_key(resolve(compose(before))) == "32bf8452850c81b0"  # method=sft's key before these keys existed
    assert run_key(resolve(compose(["method=sft"]))) != "32bf8452850c81b0"  # the paper's recipe trains otherwise


@pytest.mark.parametrize(
    "sweep, expected", [("paper_rank", 36), ("paper_quantity", 80), ("paper_mixture", 40), ("paper_tiny", 32)]
)
def test_side_experiment_sweeps_plan(sweep, expected):
    jobs, summary = plan(f"sweep={sweep}")
    assert len(jobs) == expected == len({key for key, _, _ in jobs}), summary
    if sweep == "paper_rank":  # each method searches its own ranks
        ranks = {(axes["method"], axes["adapter.r"]) for _, _, axes in jobs}
        assert ranks == {(m, r) for m, rs in (("sft", "32 64 128"), ("dpo", "8 16 32")) for r in rs.split()}
    if sweep == "paper_quantity":  # one 700-step schedule per run, evaluated every 100 steps
        assert {(axes["dataset"], axes["seed"]) for _, _, axes in jobs} == {
            (d, str(s)) for d in ("hh_rlhf", "beavertails") for s in range(5)
        }


def test_paper_quantity_evaluates_the_paper_runs_every_100_steps(compose):
    cfg = compose(["sweep=paper_quantity", "model=mistral", "quant=nf4"])
    # 100 ... 600 as step adapters, 700 as the run's own evaluation
    assert cfg.method.max_steps == 700 and list(cfg.eval.at_steps) == list(range(100, 700, 100))
    paper = compose(["sweep=paper", "model=mistral", "quant=nf4"])
    # the very runs of sweep=paper, which keeps their step adapters, found where it puts them
    assert run_key(resolve(cfg)) == run_key(resolve(paper)) and cfg.sweep.inputs_dir == "multirun/paper"
    assert list(paper.train.keep_steps) == list(cfg.eval.at_steps)


def test_paper_tiny_runs_tiny_models_on_bundled_data(compose):
    config = compose(["sweep=paper_tiny", "model=tiny_mistral", "dataset=hh_rlhf"])
    assert config.model.tiny is not None and config.dataset.sample and config.method.max_steps == 30


def test_an_override_that_does_not_compose_is_reported_and_the_rest_planned():
    done = alignbench("-m", "model=tiny_llama,no_such_model", "dry_run=true", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 pending" in done.stdout and "1 invalid" in done.stdout and "no_such_model" in done.stdout


def test_run_key_ignores_where_and_how_a_run_is_logged(compose):
    base = run_key(resolve(compose([])))
    for same in (
        ["logger=none"],
        ["sweep.name=other"],
        ["paths.cache_dir=/elsewhere"],
        ["cpu_threads=1"],
        ["train.shared_caches=false"],
        ["stages=[train]"],
        ["eval.benchmarks=[]"],
        ["judge=openai"],
    ):
        assert run_key(resolve(compose(same))) == base, same
    for different in (["seed=1"], ["method.beta=0.2"], ["adapter.r=4"], ["dataset.eval_samples=10"]):
        assert run_key(resolve(compose(different))) != base, different


def record(run_dir, **fields):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "record.json").write_text(json.dumps({"run_key": run_dir.name, **fields}))


def test_status_of_a_run_directory(tmp_path):
    def status(name):
        return status_of(tmp_path / name, Job([], name)).status

    assert status("never") is Status.pending
    record(tmp_path / "done", status="completed")
    record(tmp_path / "failed", status="failed", failures=1, error="ValueError: x")
    record(tmp_path / "killed", status="running")  # its process died: nobody holds the lock
    record(tmp_path / "busy", status="running")
    assert status("done") is Status.completed and status("failed") is Status.failed
    record(tmp_path / "evaluated", status="completed", eval_key="e1", benchmarks={"errors": {}})
    record(tmp_path / "partly", status="completed", eval_key="e1", benchmarks={"errors": {"mmlu": "no hub"}})
    for name, wanted, expected in [
        ("evaluated", "e1", Status.completed),
        ("evaluated", "e2", Status.outdated),
        ("partly", "e1", Status.outdated),
        ("partly", None, Status.completed),
    ]:
        assert status_of(tmp_path / name, Job([], name, eval_key=wanted)).status is expected, (name, wanted)
    assert status("killed") is Status.pending
    with claim(tmp_path / "busy") as claimed:
        assert claimed and status("busy") is Status.running
    assert status("busy") is Status.pending


def test_a_claimed_run_cannot_be_claimed_again_until_released(tmp_path):
    with claim(tmp_path) as first:
        assert first and is_locked(tmp_path)
        with claim(tmp_path) as second:
            assert not second
    assert not is_locked(tmp_path)
    with claim(tmp_path) as again:
        assert again


def test_failed_runs_are_retried_up_to_the_cap():
    assert Job([], "k", status=Status.failed, failures=2).should_run(max_failures=3)
    assert not Job([], "k", status=Status.failed, failures=3).should_run(max_failures=3)
    assert not Job([], "k", status=Status.completed).should_run(max_failures=3)
    assert not Job([], "k", status=Status.running).should_run(max_failures=3)
    assert Job([], "k", status=Status.outdated).should_run(max_failures=3)


def test_status_prints_the_grid_as_a_matrix(tmp_path, capsys):
    jobs = []
    for model, method, seed in itertools.product(["llama", "mistral"], ["sft", "dpo"], ["0", "1"]):
        key = f"{model}-{method}-{seed}"
        jobs.append({"run_key": key, "overrides": [f"model={model}", f"method={method}", f"seed={seed}"]})
    (tmp_path / "plan.json").write_text(json.dumps({"sweep": "t", "axes": ["model", "method", "seed"], "jobs": jobs}))
    record(tmp_path / "llama-sft-0", status="completed")
    record(tmp_path / "llama-sft-1", status="completed")
    record(tmp_path / "mistral-dpo-0", status="failed", failures=1, error="RuntimeError: out of memory")
    assert status_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "8 runs: 2 completed, 1 failed, 0 running, 5 pending" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("sft", "dpo"))}
    assert rows == {"sft": ["2/2", "0/2"], "dpo": ["0/2", "0/2", "F1"]}
    assert "FAILED mistral-dpo-0: RuntimeError: out of memory" in out


def test_status_shows_a_metric_mean_per_cell(tmp_path, capsys):
    for seed, accuracy in (("0", 0.5), ("1", 0.75)):
        record(
            tmp_path / f"sft-{seed}",
            status="completed",
            overrides=["method=sft", f"seed={seed}"],
            metrics={"eval/pref/accuracy": accuracy},
        )
    record(tmp_path / "dpo-0", status="completed", overrides=["method=dpo", "seed=0"], metrics={})
    record(tmp_path / "dpo-1", status="failed", overrides=["method=dpo", "seed=1"], metrics={"eval/pref/accuracy": 1})
    assert status_main([str(tmp_path), "--cols", "method", "--metric", "eval/pref/accuracy"]) == 0
    cells = capsys.readouterr().out.splitlines()[-2]
    # dpo: its completed run has no accuracy, its failed one is counted, never averaged; sft: (0.5 + 0.75) / 2
    assert cells.split() == ["-", "(1/2", "F1)", "0.625", "(2/2)"]


def test_status_of_a_missing_sweep_says_how_to_start_one(tmp_path, capsys):
    assert status_main([str(tmp_path / "nope")]) == 2
    assert "dry_run=true" in capsys.readouterr().err


@pytest.mark.parametrize(
    "launcher, target", [("parallel", "JoblibLauncher"), ("processes", "LocalLauncher"), ("slurm", "SlurmLauncher")]
)
def test_launcher_presets_compose(launcher, target, monkeypatch):
    from helpers import CONF
    from hydra import compose, initialize_config_dir

    monkeypatch.setenv("SLURM_PARTITION", "gpu-a100")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        config = compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    node = config.hydra.launcher
    assert node._target_.endswith(target)
    if launcher == "slurm":  # one GPU per job, site settings from the environment, requeue on timeout
        assert node.gpus_per_node == 1 and node.max_num_timeout > 0 and node.timeout_min >= 90
        assert OmegaConf.select(config, "hydra.launcher.partition") == "gpu-a100"
        assert node.account is None
    if launcher == "parallel":
        assert node.n_jobs == 2


def test_optuna_example_composes_with_its_sweeper(compose):
    config = compose(["sweep=tune_dpo"])
    assert config.method.name == "dpo" and config.sweep.objective == "eval/pref/margin"
    assert config.model.tiny is not None  # the tiny CPU setup


def test_chain_sweeps_plan_sft_then_dpo_with_their_sft_stages_in_the_key(compose):
    """sweep=paper_chain: 4 models x 2 datasets x 2 preferences x 5 seeds of method=sft_dpo on QLoRA, its SFT stages
    looked up in multirun/paper; chain_tiny: the same on two tiny models beside plain DPO, startable here."""
    from alignbench.runs.identity import identify

    jobs, summary = plan("sweep=paper_chain")
    assert len(jobs) == 80 == len({key for key, _, _ in jobs}), summary
    assert {tuple(sorted(axes)) for _, _, axes in jobs} == {("dataset", "dataset.preference", "model", "seed")}
    assert "estimated training time of the 80 runs to do: 123.3 GPU-hours" in summary  # SFT + DPO per run
    assert "SFT stages of the chained runs: 80, " in summary  # one per model, data, preference and seed
    for key, _, axes in random.Random(0).sample(jobs, 3):
        config = compose(["sweep=paper_chain", "method=sft_dpo", "quant=nf4", *(f"{a}={v}" for a, v in axes.items())])
        assert config.sweep.inputs_dir == "multirun/paper"
        chained = identify(config)  # the plan's key covers the SFT stage's, as the launch does
        assert chained.run_key == key and chained.stage.key == run_key(resolve(compose(["sweep=paper", *_sft(axes)])))

    jobs, summary = plan("sweep=chain_tiny")
    assert len(jobs) == 8 and "cannot start" not in summary and "SFT stages of the chained runs: 4, " in summary
    assert sorted(axes["method"] for _, _, axes in jobs) == ["dpo"] * 4 + ["sft_dpo"] * 4
    tiny = compose(["sweep=chain_tiny", "method=sft_dpo", "method.sft.max_steps=20"])
    assert tiny.method.max_steps == tiny.method.sft.max_steps == 20 and tiny.model.tiny is not None


def _sft(axes: dict) -> list[str]:
    return [f"{a}={v}" for a, v in axes.items()] + ["method=sft", "quant=nf4"]
