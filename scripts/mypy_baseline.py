"""mypy against a recorded baseline that may only shrink: per-file error counts in mypy-baseline.json.

`python scripts/mypy_baseline.py` fails when a file has more errors than recorded, when a package of ZERO has any,
or when a count shrank and the baseline was not lowered; `--update` rewrites the baseline. Counts per file, not
error lines, so that an edit above an error does not read as a new one. Settings: [tool.mypy] in pyproject.toml.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.json"
# Packages held at zero errors: a new error there fails whatever the baseline says.
ZERO = ["alignbench/config", "alignbench/report", "alignbench/runs"]
_ERROR = re.compile(r"^(?P<file>[^:\s]+\.py):\d+(?::\d+)?: error: ")
_UPDATE = "python scripts/mypy_baseline.py --update"


def run_mypy() -> tuple[Counter[str], list[str]]:
    """Error counts per file, and mypy's error lines."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 1):  # 2: mypy could not run (bad settings, a syntax error, a crash)
        sys.exit(f"mypy failed to run (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    lines = [line for line in done.stdout.splitlines() if _file(line)]
    return Counter(_file(line) for line in lines), lines


def _file(line: str) -> str:
    """The file an error line of mypy's is in; "" for notes and anything else."""
    found = _ERROR.match(line)
    return found["file"] if found else ""


def compare(counts: Counter[str], baseline: dict[str, int]) -> tuple[list[str], list[str], list[str]]:
    """One line per file whose count grew, per file with errors in a ZERO package, per file whose count shrank."""
    grown = [
        f"{file}: {count} mypy errors, baseline {baseline.get(file, 0)}"
        for file, count in sorted(counts.items())
        if count > baseline.get(file, 0)
    ]
    at_zero = [
        f"{file}: {count} mypy errors, but {package} is held at zero (ZERO in scripts/mypy_baseline.py)"
        for package in ZERO
        for file, count in sorted(counts.items())
        if file.startswith(package + "/")
    ]
    shrunk = [
        f"{file}: {counts.get(file, 0)} mypy errors, baseline {recorded}"
        for file, recorded in sorted(baseline.items())
        if counts.get(file, 0) < recorded
    ]
    return grown, at_zero, shrunk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite mypy-baseline.json with the current counts")
    args = parser.parse_args(argv)
    counts, lines = run_mypy()
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    grown, at_zero, shrunk = compare(counts, baseline)
    if args.update:
        BASELINE.write_text(json.dumps(dict(sorted(counts.items())), indent=2) + "\n")
        print(f"mypy-baseline.json: {sum(counts.values())} errors in {len(counts)} files")
        for line in [f"up: {line}" for line in grown if baseline] + at_zero:  # no baseline yet: every file is up
            print(f"  {line}")
        return 1 if at_zero else 0
    if grown or at_zero:
        failing = {line.split(":", 1)[0] for line in grown + at_zero}
        print("\n".join([line for line in lines if _file(line) in failing] + grown + at_zero))
        return 1
    if shrunk:
        print("\n".join(shrunk))
        print(f"fewer mypy errors than recorded: lower the baseline with `{_UPDATE}` and commit mypy-baseline.json")
        return 1
    print(f"mypy: {sum(counts.values())} errors in {len(counts)} files, none beyond mypy-baseline.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
