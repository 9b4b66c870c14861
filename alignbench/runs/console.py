"""What a run prints: its stage lines, and when it ends where it is, what training did, the held-out preference
metrics and the benchmark table (base vs trained), and how to upload an offline W&B run."""

from __future__ import annotations

import logging
import os
from typing import Any

from alignbench.config.benchmarks import SPECS
from alignbench.runs.record import RunRecord

log = logging.getLogger(__name__)
SEED_LIKE = ("seed",)  # replicate axes: averaged over, never a row of their own


def run_name(choices: dict[str, str], seed: int) -> str:
    return "-".join(choices[g] for g in ("model", "dataset", "method", "quant") if g in choices) + f"-s{seed}"


def print_summary(record: RunRecord, tracker_note: str | None) -> None:
    m = record.metrics
    lines = [
        f"alignbench {record.status}: {run_name(record.choices, record.config['seed'])}  (run_key {record.run_key})"
    ]
    lines.append(f"  run dir      {record.run_dir}")
    lines += data_lines(m, record.data_issues or {})
    if "train/loss_first" in m:
        lines.append(
            f"  train        {m['train/steps']} steps in {record.timings['train_s']:.0f} s, "
            f"loss {m['train/loss_first']:.3f} -> {m['train/loss_last']:.3f}"
        )
    if "eval/pref/accuracy" in m:
        lines.append(
            f"  held-out preference accuracy ({m['eval/pref/pairs']} pairs): "
            f"base {m['baseline/pref/accuracy']:.3f} -> trained {m['eval/pref/accuracy']:.3f}"
        )
        lines.append(
            f"  length-normalised log-prob margin: base {m['baseline/pref/margin']:+.3f} -> "
            f"trained {m['eval/pref/margin']:+.3f}; implicit-reward accuracy {m['eval/pref/reward_accuracy']:.3f}"
        )
    if record.benchmarks:
        lines += benchmark_table(record)
    if record.error:
        lines.append(f"  error        {record.error}")
    if tracker_note:
        lines.append(f"  {tracker_note}")
    log.info("\n".join(lines))  # the console and the run's alignbench.log (Hydra's job logging, conf/hydra)


def data_lines(m: dict[str, Any], issues: dict[str, dict]) -> list[str]:
    """What happened to every row and pair (data/... metrics), and the first rows of each reason one was left out."""
    lines = []
    for split, label, used in (("train", "train", "trained"), ("test", "held-out", "scored")):
        if f"data/{split}_selected_pairs" not in m:
            continue

        def count(name: str, split: str = split) -> int:  # preference=mixed counts rows per preference: add them up
            return sum(m.get(f"data/{p}{split}_{name}", 0) for p in ("", "harmless_", "helpful_"))

        kept = m.get("eval/pref/pairs" if split == "test" else "data/train_pairs", m.get(f"data/{split}_pairs"))
        parsed = (
            f"{count('rows')} rows, {count('bad_rows')} bad, {count('filtered_rows')} filtered by the preference "
            "rule -> "
            if f"data/{split}_rows" in m or f"data/harmless_{split}_rows" in m
            else ""  # one file: the held-out pairs are a slice of the train file's
        )
        lines.append(
            f"  data         {label}: {parsed}{m[f'data/{split}_selected_pairs']} pairs selected -> {kept} {used} "
            f"(prompt cut {m.get(f'data/{split}_prompt_truncated', 0)}, reply tail cut "
            f"{m.get(f'data/{split}_reply_truncated', 0)}, dropped with no reply token "
            f"{m.get(f'data/{split}_dropped_no_reply', 0)})"
        )
    for kind, reasons in issues.items():
        listed = ", ".join(
            f"{reason} {entry['count']} ({', '.join(entry['rows'])}{', ...' * (entry['count'] > len(entry['rows']))})"
            for reason, entry in reasons.items()
        )
        lines.append(f"  left out     {kind}: {listed}")
    return lines


def benchmark_table(record: RunRecord) -> list[str]:
    """Each benchmark's headline metric for the base and the trained model."""
    metrics, outcome = record.metrics, record.benchmarks or {}
    names = record.config["eval"]["benchmarks"]
    if not names or not outcome:
        return []
    # A method=base run trained nothing: its own column is the unaligned base's score.
    own = "unaligned" if (record.study or {}).get("method") == "base" else "trained"
    rows = []
    for name in names:
        metric = SPECS[name].metric
        if name in outcome["errors"]:
            rows.append([name, "not run (below)", "", "", "", ""])
            continue
        base, trained = metrics.get(f"baseline/{name}/{metric}"), metrics.get(f"eval/{name}/{metric}")
        rows.append(
            [
                name,
                metric,
                "-" if base is None else f"{base:.3f}",
                "-" if trained is None else f"{trained:.3f}",
                str(int(metrics.get(f"eval/{name}/items", 0))),
                outcome["judges"].get(name) or "",
            ]
        )
    headers = ["benchmark", "metric", "base", own, "items", "judged by"]
    lines = console_table(rows, headers, ("left", "left", "right", "right", "right", "left"))
    lines += [f"  not run: {name}: {' '.join(error.split())}" for name, error in outcome["errors"].items()]
    return lines


# Libraries' progress bars (datasets, the hub's downloads, transformers' weight loading, TRL's reference pass,
# lm-eval) are off unless asked for: `python -m alignbench -v ...` sets it for the run and every job of a sweep.
VERBOSE = "ALIGNBENCH_VERBOSE"


def library_bars_wanted() -> bool:
    return os.environ.get(VERBOSE, "").strip().lower() in ("1", "true", "yes", "on")


def quiet_libraries() -> None:
    """Keep the console for alignbench's stage lines, the training progress bar and the summary."""
    if not library_bars_wanted():
        import datasets
        from transformers.utils import logging as transformers_logging

        datasets.disable_progress_bars()
        transformers_logging.disable_progress_bar()  # "Loading weights", "Writing model shards"; the hub's too
    # Python warnings (libraries' deprecation notices) go to the run's alignbench.log through logging, not the console.
    logging.captureWarnings(True)
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # 8-bit logs a cast message on every matmul
    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # a dozen lines per task; our summary has the numbers


def stage_line(what: str) -> str:
    """A run's line for the stage it enters, e.g. "alignbench: evaluate mmlu 2/5"."""
    return f"alignbench: {what}"


def duration(seconds: float) -> str:
    """A rough duration: 40 s, 12 min, 3.5 h."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def console_table(
    rows: list[list[str]], headers: list[str], align: tuple[str, ...] | None = None, indent: str = "  "
) -> list[str]:
    """Rows of text cells as aligned console lines: tabulate's plain format (two spaces between columns, a header
    cell with several lines for a header of several levels), each line indented. Cells are printed as given (no
    number parsing: 0.600 stays 0.600, a seed 0 stays a label); columns are as wide as their widest cell."""
    import tabulate

    padding, tabulate.MIN_PADDING = tabulate.MIN_PADDING, 0  # else every header gets two extra spaces
    try:
        text = tabulate.tabulate(
            rows, headers=headers, tablefmt="plain", disable_numparse=True, stralign="left", colalign=align
        )
    finally:
        tabulate.MIN_PADDING = padding
    return [f"{indent}{line}".rstrip() for line in text.splitlines()]
