"""What people read: the end-of-run summary (console), the sweep status matrix (status), and the study report:
records -> load_runs -> tables, figures, checked findings, index pages (no torch).

The report's API loads on first use, so the pipeline and the planner, which only print, never import pandas.
"""

from importlib import import_module

_API = {
    "Report": "build",
    "build_report": "build",
    "FINDINGS": "findings",
    "check_findings": "findings",
    "aggregate": "results",
    "baselines": "results",
    "completed": "results",
    "headline": "results",
    "load_runs": "results",
    "runs_of": "results",
    "BENCHMARKS": "study",
    "Status": "results",
    "paper_tables": "tables",
    "study_cells": "tables",
    "study_tables": "tables",
}
__all__ = [*_API, "load_wandb_runs"]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f"alignbench.report.{_API[name]}"), name)
    raise AttributeError(f"module 'alignbench.report' has no attribute {name!r}")


def load_wandb_runs(project: str, group: str | None = None, api=None):
    """The runs of a W&B project in load_runs' shape (imports wandb only when called)."""
    from alignbench.report.wandb_io import load_wandb_runs as load

    return load(project, group, api)
