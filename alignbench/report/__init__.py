"""Study reports from run records: load_runs -> tables, figures, checked findings, index pages (no torch)."""

from alignbench.report.build import Report, build_report
from alignbench.report.findings import FINDINGS, check_findings
from alignbench.report.results import aggregate, baselines, completed, headline, load_runs, runs_of
from alignbench.report.study import BENCHMARKS, Status
from alignbench.report.tables import paper_tables, study_cells, study_tables


def load_wandb_runs(project: str, group: str | None = None, api=None):
    """The runs of a W&B project in load_runs' shape (imports wandb only when called)."""
    from alignbench.report.wandb_io import load_wandb_runs as load

    return load(project, group, api)


__all__ = ["BENCHMARKS", "FINDINGS", "Report", "Status", "aggregate", "baselines", "build_report",
           "check_findings", "completed", "headline", "load_runs", "load_wandb_runs", "paper_tables", "runs_of",
           "study_cells", "study_tables"]
