"""The report in W&B: publish its summary table and figures to the sweep's group; read runs back via wandb.Api."""

from __future__ import annotations

import os

import pandas as pd

from alignbench.report.results import records_frame


def publish(report, project: str | None = None) -> str:
    """One W&B run (job_type report) in the sweep's group: the findings and cell tables as wandb.Tables and
    the figures as an artifact. WANDB_MODE decides; without it and without an API key, offline."""
    import wandb

    sweeps = sorted({s for s in report.summary["sources"]})
    group = os.path.basename(os.path.normpath(sweeps[0]))
    if "WANDB_API_KEY" not in os.environ:
        os.environ.setdefault("WANDB_MODE", "offline")  # never a login prompt in a batch job
    run = wandb.init(
        project=project or os.environ.get("WANDB_PROJECT", "alignbench"),
        group=group,
        job_type="report",
        name=f"{group}-report",
        dir=str(report.out),
        config={"sources": sweeps, **{k: v for k, v in report.summary.items() if k != "sources"}},
    )
    try:
        run.log({"findings": wandb.Table(dataframe=report.findings.astype(str))})
        for table in report.tables:
            if hasattr(table, "cells"):
                run.log({f"table/{table.name}": wandb.Table(dataframe=table.cells.astype(str))})
        artifact = wandb.Artifact(f"{group}-report-figures", type="report")
        for figure in report.figures:
            if hasattr(figure, "paths"):
                for path in figure.paths.values():
                    artifact.add_file(str(path))
        run.log_artifact(artifact)
        where = run.dir
    finally:
        run.finish()
    return f"published to group {group} ({os.environ.get('WANDB_MODE', 'online')}; files under {where})"


def load_wandb_runs(project: str, group: str | None = None, api=None) -> pd.DataFrame:
    """The runs of a W&B project (one group, or all) in load_runs' shape, from each run's config and summary.

    alignbench logs the resolved config and the record's flat metrics, so a run maps back to a record.
    """
    import wandb

    api = api or wandb.Api()
    filters = {"group": group} if group else {}
    records = []
    for run in api.runs(project, filters=filters):
        config = dict(run.config)
        records.append(
            {
                "run_key": config.get("run_key", run.id),
                "status": {"finished": "completed"}.get(run.state, run.state),
                "sweep": run.group,
                "run_dir": run.url,
                "config": config,
                "eval_key": config.get("eval_key"),
                "choices": {k: (config.get(k) or {}).get("name") for k in ("model", "dataset", "method", "quant")},
                "metrics": {k: v for k, v in dict(run.summary).items() if isinstance(v, int | float)},
            }
        )
    return records_frame(records)
