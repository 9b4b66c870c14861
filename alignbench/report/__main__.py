"""`python -m alignbench.report PATH [PATH ...] [--out DIR] [--wandb]`: a sweep's study report, without torch.

python -m alignbench.report multirun/report_tiny            # writes multirun/report_tiny/report/
python -m alignbench.report multirun/paper multirun/paper_mixture --out study/
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from alignbench.report.results import FlaggedRecord, NoRecords, UnreadableRecord


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m alignbench.report", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="sweep folders (multirun/<sweep>), run folders or record.json files")
    parser.add_argument("--out", help="report folder (default: <first path>/report)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="leave out records whose numbers do not match their digest or lie outside their metric's range "
        "(default: keep them, flagged)",
    )
    parser.add_argument(
        "--wandb", action="store_true", help="also publish the summary table and the figures to W&B (the sweep's group)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    tic = time.perf_counter()
    from alignbench.report.build import build_report  # pandas and matplotlib only once the arguments are fine

    def unreadable(path, message):
        print(f"warning: skipped {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableRecord)  # reported through `unreadable`, once each
        warnings.simplefilter("ignore", FlaggedRecord)  # said below, once per run
        try:
            report = build_report(args.paths, args.out, on_unreadable=unreadable, strict=args.strict)
        except (NoRecords, ValueError) as err:  # FindingError, or a record that cannot be placed
            print(f"alignbench.report: {err}", file=sys.stderr)
            return 2
    s = report.summary
    print(f"report written to {report.out}/index.html (and index.md) in {time.perf_counter() - tic:.1f} s")
    print(
        f"  runs {s['runs']}: {s['completed']} completed, {s['failed']} failed, {s['other']} running or "
        f"interrupted; {s['unreadable']} unreadable records skipped"
    )
    primary = report.findings[report.findings["role"] == "primary"]
    print("  takeaways: " + ", ".join(f"{row.finding} {row.verdict}" for row in primary.itertuples()))
    if s.get("derived"):
        print(f"  {s['derived']} old records (no study block): axes derived from their config")
    if s.get("duplicates"):
        print(f"  {s['duplicates']} records reached twice (same run and eval key) counted once")
    for run_dir, problems in s.get("flagged", {}).items():
        print(f"  flagged (kept; --strict leaves it out): {run_dir}: {'; '.join(problems)}")
    for line in s.get("splits", []):
        print(f"  split, never averaged: {line}")
    for line in s.get("power", []):
        print(f"  power: {line}")
    if args.wandb:
        from alignbench.report.wandb_io import publish

        print(f"  W&B: {publish(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
