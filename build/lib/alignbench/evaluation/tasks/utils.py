"""Helpers that the local lm-eval task YAMLs in this folder reach with `!function utils.<name>`.

lm-eval 0.4.13 looks for `utils.py` next to the YAML that names it, so these tasks load from any working
directory: `load_local_json` resolves each relative `data_files` path against this folder (an absolute path
passes through unchanged) and reads the files with the packaged `json` builder, which needs no hub.
"""

from __future__ import annotations

from pathlib import Path

import datasets

# The upstream BBH zero-shot filters, re-exported so the YAMLs can name them as upstream does.
from lm_eval.tasks.bbh.zeroshot.utils import MapRegexFilter, MultiChoiceRegexFilter

__all__ = ["HERE", "MapRegexFilter", "MultiChoiceRegexFilter", "load_local_json"]

HERE = Path(__file__).resolve().parent


def load_local_json(data_files: dict[str, str], subject: str | None = None, **_metadata) -> datasets.DatasetDict:
    """The `custom_dataset` of the sample tasks: lm-eval calls it with the task's metadata and dataset_kwargs.

    subject: keep only the rows of this MMLU subject (cais/mmlu serves one config per subject).
    """
    files = {split: str(HERE / path) for split, path in data_files.items()}
    dataset = datasets.load_dataset("json", data_files=files)
    if subject is not None:
        dataset = dataset.filter(lambda row: row["subject"] == subject)
    return dataset
