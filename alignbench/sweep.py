"""Hydra callback that ends a multirun with a summary of its runs and a non-zero exit if any failed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        records = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/record.json"))]
        failed = [r for r in records if r["status"] != "completed"]
        print(f"\nsweep {sweep_dir}: {len(records)} runs, {len(records) - len(failed)} completed, {len(failed)} failed")
        for r in failed:
            reason = " ".join((r.get("error") or "no error recorded").split())
            print(f"  FAILED {Path(r['run_dir']).name}: {reason[:300]}")
        if failed:
            sys.stdout.flush()
            # Hydra turns a callback's exception into a warning (exit 0); SystemExit is not an Exception, so it
            # is how the sweep's exit code says that runs failed. Nothing in Hydra runs after this callback.
            raise SystemExit(1)
