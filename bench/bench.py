"""`make bench`: alignbench against plain TRL and stock lm-eval on a few-million-parameter local model.

In one invocation, contenders alternate and every measurement repeats (--repeats, at least 3); medians are
reported. Writes bench/results/bench.md and bench.json; the last line printed is one JSON object:
grid_vs_processes, grid_vs_inprocess_trl, step_vs_trl, eval_vs_lm_eval_cli, plan_seconds, grid_rss_ratio.

    a. 4 DPO runs (rank {8,16} x seed {0,1}): alignbench multirun | 4 plain-TRL processes (TRL's defaults: the
       reference forward at every step) | 4 plain-TRL runs in one process with precompute_ref_log_probs=True
    b. one DPO run: training tokens/s of alignbench and plain TRL (same settings, both with precomputed reference
       log-probs), and FLOP/s against a matmul peak
    c. evaluating the 4 adapters on the sample MMLU + BBH: alignbench (one process, base loaded once) | 4 lm_eval CLIs
    d. `sweep=paper dry_run=true` wall time
    e. peak RSS of the 4-run alignbench grid against a single run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable
# ~3.4M parameters: big enough that compute, not Python overhead, dominates a step.
MODEL = [
    "model.tiny.hidden_size=256",
    "model.tiny.num_layers=4",
    "model.tiny.num_heads=8",
    "model.tiny.num_kv_heads=4",
    "model.tiny.intermediate_size=688",
]
STEPS = 40
# --smoke: every contender and figure, at a size where only the path is tested
SMOKE_STEPS = 4
SMOKE_MODEL = [
    "model.tiny.hidden_size=32",
    "model.tiny.num_layers=1",
    "model.tiny.num_heads=2",
    "model.tiny.num_kv_heads=1",
    "model.tiny.intermediate_size=64",
]
GRID = ["adapter.r=8,16", "seed=0,1"]
TRAIN_ONLY = ["stages=[train]", "logger=none", f"method.max_steps={STEPS}"]
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "TOKENIZERS_PARALLELISM": "false",
}


def timed(command: list[str], cwd: Path = REPO) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(command[:6])}... failed:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss // 1024, output


def prepare(work: Path) -> dict:
    """The model folder, the exported training pairs and template, shared by every contender."""
    sys.path.insert(0, str(REPO))
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from alignbench.config.schema import register_configs
    from alignbench.data.load import load_preference_data
    from alignbench.data.parsers import assistant
    from alignbench.modeling.models import model_location
    from alignbench.training.train import train_pairs_wanted

    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = OmegaConf.to_object(
            compose("config", overrides=[*MODEL, f"method.max_steps={STEPS}", f"paths.cache_dir={work / 'models'}"])
        )
    model_dir = model_location(cfg.model, cfg.paths.cache_dir)
    data = load_preference_data(cfg.dataset, train_pairs_wanted(cfg), cfg.dataset.selection_seed)
    pairs = work / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps({"prompt": p.prompt, "chosen": assistant(p.chosen), "rejected": assistant(p.rejected)}) + "\n"
            for p in data.train
        )
    )
    template = work / "template.jinja"
    template.write_text(cfg.model.chat_template)
    import torch
    from transformers import AutoModelForCausalLM

    params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(model_dir).parameters())
    tokens = _tokens_per_step(
        model_dir, cfg.model.chat_template, data.train, cfg.method.max_length, cfg.method.batch_size
    )
    return {
        "model": model_dir,
        "pairs": str(pairs),
        "template": str(template),
        "params": params,
        "tokens_per_step": tokens,
        "threads": torch.get_num_threads(),
    }


def _tokens_per_step(model_dir: str, template: str, pairs, max_length: int, batch_size: int) -> float:
    """Mean tokens a DPO step processes: chosen and rejected sequences of a batch, cut at max_length."""
    from transformers import AutoTokenizer

    from alignbench.data.parsers import assistant

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = template
    lengths = []
    for pair in pairs:
        for reply in (pair.chosen, pair.rejected):
            ids = tokenizer.apply_chat_template(pair.prompt + assistant(reply), tokenize=True, return_dict=True)
            lengths.append(min(len(ids["input_ids"]), max_length))
    return 2 * batch_size * statistics.mean(lengths)


def alignbench_grid(shared: dict, work: Path, grid: list[str]) -> tuple[float, int, list[dict]]:
    folder = Path(tempfile.mkdtemp(dir=work, prefix="grid-"))
    seconds, rss, _ = timed(
        [
            PY,
            "-m",
            "alignbench",
            "-m",
            *grid,
            *MODEL,
            *TRAIN_ONLY,
            f"model.path={shared['model']}",
            f"paths.cache_dir={folder / 'cache'}",
            f"hydra.sweep.dir={folder / 'sweep'}",
        ]
    )
    records = [json.loads(p.read_text()) for p in (folder / "sweep").glob("*/record.json")]
    return seconds, rss, records


def plain_processes(shared: dict, work: Path) -> float:
    start = time.perf_counter()
    for rank in (8, 16):
        for seed in (0, 1):
            out = tempfile.mkdtemp(dir=work, prefix="trl-")
            timed(
                [
                    PY,
                    str(BENCH / "plain_trl.py"),
                    "--model",
                    shared["model"],
                    "--pairs",
                    shared["pairs"],
                    "--template",
                    shared["template"],
                    "--out",
                    out,
                    "--rank",
                    str(rank),
                    "--seed",
                    str(seed),
                    "--steps",
                    str(STEPS),
                ]
            )
    return time.perf_counter() - start


def plain_in_process(shared: dict, work: Path, runs: list[tuple[int, int]]) -> tuple[float, list[dict]]:
    driver = (
        "import json, sys, tempfile; sys.path.insert(0, sys.argv[1]); from plain_trl import train_one; "
        "print(json.dumps([train_one(sys.argv[2], sys.argv[3], sys.argv[4], tempfile.mkdtemp(dir=sys.argv[5]), r, s, "
        f"{STEPS}, precompute=True) for r, s in {runs!r}]))"
    )
    seconds, _, output = timed(
        [PY, "-c", driver, str(BENCH), shared["model"], shared["pairs"], shared["template"], str(work)]
    )
    return seconds, json.loads(output.strip().splitlines()[-1])


def evaluate_alignbench(shared: dict, work: Path) -> float:
    """Train the 4 adapters once (untimed), then time re-evaluating them in one process on MMLU + BBH."""
    folder = Path(tempfile.mkdtemp(dir=work, prefix="eval-"))
    common = [
        "-m",
        *GRID,
        *MODEL,
        "logger=none",
        f"method.max_steps={STEPS}",
        f"model.path={shared['model']}",
        f"paths.cache_dir={folder / 'cache'}",
        f"hydra.sweep.dir={folder / 'sweep'}",
        "eval.baseline=false",
    ]
    timed([PY, "-m", "alignbench", *common, "stages=[train]", "eval.benchmarks=[]"])
    seconds, _, output = timed([PY, "-m", "alignbench", *common, "stages=[evaluate]", "eval.benchmarks=[mmlu,bbh]"])
    assert "launching 4" in output, output[-2000:]
    shared["eval_runs"] = [json.loads(p.read_text()) for p in (folder / "sweep").glob("*/record.json")]
    return seconds


def evaluate_lm_eval_cli(shared: dict, work: Path) -> float:
    start = time.perf_counter()
    for record in shared["eval_runs"]:
        timed(
            [
                str(Path(PY).parent / "lm_eval"),
                "--model",
                "hf",
                "--model_args",
                f"pretrained={record['model_path']},peft={record['adapter_path']}",
                "--tasks",
                "mmlu_sample,bbh_sample",
                "--include_path",
                str(REPO / "alignbench" / "evaluation" / "tasks"),
                "--device",
                "cpu",
                "--batch_size",
                "8",
            ],
            cwd=work,
        )
    return time.perf_counter() - start


def plan_seconds() -> float:
    return timed([PY, "-m", "alignbench", "-m", "sweep=paper", "dry_run=true"])[0]


def matmul_peak_flops() -> float:
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    start, n = time.perf_counter(), 20
    for _ in range(n):
        a @ b
    return 2 * 2048**3 * n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the whole path at a minimal size (one repeat, a few steps, a smaller model): the test suite runs it "
        "so that the bench cannot break unnoticed; its numbers mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        global STEPS, MODEL
        STEPS, args.repeats = SMOKE_STEPS, 1
        MODEL = SMOKE_MODEL
    work = Path(tempfile.mkdtemp(prefix="alignbench-bench-"))
    samples: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)
        print(f"  {name}: {value:.3f}", flush=True)

    try:
        shared = prepare(work)
        print(
            f"model {shared['params'] / 1e6:.2f}M parameters, {shared['tokens_per_step']:.0f} tokens/step, "
            f"{shared['threads']} threads; work dir {work}",
            flush=True,
        )
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats}", flush=True)
            grid_s, grid_rss, records = alignbench_grid(shared, work, GRID)  # a: alignbench
            add("a_alignbench_s", grid_s)
            add("e_grid_rss_mb", grid_rss)
            add("a_plain_processes_s", plain_processes(shared, work))  # a: separate processes
            inproc_s, _ = plain_in_process(shared, work, [(8, 0), (8, 1), (16, 0), (16, 1)])
            add("a_plain_inprocess_s", inproc_s)
            single_s, single_rss, (single,) = alignbench_grid(shared, work, ["adapter.r=16", "seed=0"])  # b, e
            add("e_single_rss_mb", single_rss)
            add("b_alignbench_train_s", single["metrics"]["train/train_runtime"])
            _, (plain,) = plain_in_process(shared, work, [(16, 0)])
            add("b_plain_train_s", plain["train_runtime"])
            add("c_alignbench_eval_s", evaluate_alignbench(shared, work))
            add("c_lm_eval_cli_s", evaluate_lm_eval_cli(shared, work))
            add("d_plan_s", plan_seconds())
        peak = matmul_peak_flops()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {name: statistics.median(values) for name, values in samples.items()}
    tokens = STEPS * shared["tokens_per_step"]
    ours_tps, trl_tps = tokens / med["b_alignbench_train_s"], tokens / med["b_plain_train_s"]
    summary = {
        "grid_vs_processes": med["a_plain_processes_s"] / med["a_alignbench_s"],
        "grid_vs_inprocess_trl": med["a_plain_inprocess_s"] / med["a_alignbench_s"],
        "step_vs_trl": ours_tps / trl_tps,
        "eval_vs_lm_eval_cli": med["c_lm_eval_cli_s"] / med["c_alignbench_eval_s"],
        "plan_seconds": med["d_plan_s"],
        "grid_rss_ratio": med["e_grid_rss_mb"] / med["e_single_rss_mb"],
    }
    flops = 6 * shared["params"] * ours_tps
    details = {
        "medians": med,
        "samples": samples,
        "params": shared["params"],
        "threads": shared["threads"],
        "tokens_per_step": shared["tokens_per_step"],
        "steps": STEPS,
        "alignbench_tokens_per_s": ours_tps,
        "trl_tokens_per_s": trl_tps,
        "train_flops_per_s": flops,
        "matmul_peak_flops_per_s": peak,
        "summary": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(details, indent=2))
    (args.out / "bench.md").write_text(_markdown(details))
    print(_markdown(details))
    print(json.dumps({k: round(v, 3) for k, v in summary.items()}))


def _markdown(d: dict) -> str:
    m, s = d["medians"], d["summary"]
    rows = [
        ("a. 4 DPO runs: alignbench multirun", f"{m['a_alignbench_s']:.1f} s", ""),
        (
            "a. 4 plain-TRL processes (TRL defaults)",
            f"{m['a_plain_processes_s']:.1f} s",
            f"grid_vs_processes {s['grid_vs_processes']:.2f}x (target >= 2.0)",
        ),
        (
            "a. 4 plain-TRL runs, one process, precompute_ref_log_probs",
            f"{m['a_plain_inprocess_s']:.1f} s",
            f"grid_vs_inprocess_trl {s['grid_vs_inprocess_trl']:.2f}x (target >= 1.25)",
        ),
        (
            "b. one run, training tokens/s: alignbench / TRL",
            f"{d['alignbench_tokens_per_s']:.0f} / {d['trl_tokens_per_s']:.0f}",
            f"step_vs_trl {s['step_vs_trl']:.2f}x (target >= 0.95)",
        ),
        (
            "b. training FLOP/s (6 x params x tokens/s) / matmul peak",
            f"{d['train_flops_per_s'] / 1e9:.2f} / {d['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s",
            f"{100 * d['train_flops_per_s'] / d['matmul_peak_flops_per_s']:.1f}% of peak",
        ),
        ("c. evaluate 4 adapters (MMLU+BBH samples): alignbench", f"{m['c_alignbench_eval_s']:.1f} s", ""),
        (
            "c. 4 stock lm_eval CLI runs",
            f"{m['c_lm_eval_cli_s']:.1f} s",
            f"eval_vs_lm_eval_cli {s['eval_vs_lm_eval_cli']:.2f}x (target >= 3)",
        ),
        ("d. sweep=paper dry_run=true", f"{m['d_plan_s']:.1f} s", "plan_seconds (target < 10)"),
        (
            "e. peak RSS: 4-run grid / single run",
            f"{m['e_grid_rss_mb']:.0f} / {m['e_single_rss_mb']:.0f} MB",
            f"grid_rss_ratio {s['grid_rss_ratio']:.2f} (target <= 1.2)",
        ),
    ]
    header = (
        f"Model: {d['params'] / 1e6:.2f}M parameters, {d['steps']} DPO steps of {d['tokens_per_step']:.0f} "
        f"tokens, {d['threads']} threads; medians of {len(d['samples']['a_alignbench_s'])} repeats.\n\n"
    )
    return (
        header
        + "| measurement | median | ratio |\n|---|---|---|\n"
        + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
        + "\n"
    )


if __name__ == "__main__":
    main()
