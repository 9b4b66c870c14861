"""Hydra callback that ends a multirun with a summary of its runs and a non-zero exit if any failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepFailed(RuntimeError):
    """At least one run of the multirun failed; each failure is listed with its reason."""


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        records = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/record.json"))]
        failed = [r for r in records if r["status"] != "completed"]
        print(f"\nsweep {sweep_dir}: {len(records)} runs, {len(records) - len(failed)} completed, {len(failed)} failed")
        for r in failed:
            reason = (r.get("error") or "no error recorded").splitlines()
            print(f"  FAILED {Path(r['run_dir']).name}: {' '.join(reason)[:400]}")
        if failed:
            raise SweepFailed(f"{len(failed)} of {len(records)} runs failed (see above and their record.json)")
