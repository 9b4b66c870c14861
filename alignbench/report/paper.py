"""The paper's published numbers (Tables 2-5) and their join with a sweep's cell means."""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

# paper_results.csv's cell key; model holds alignbench's option names of the paper's models.
KEY = ["dataset", "model", "preference", "adapter", "method", "variant", "benchmark"]
TABLES = {2: "preference mixture", 3: "merging", 4: "QLoRA", 5: "LoRA"}


def paper_results() -> pd.DataFrame:
    """The published values, one row per (table, cell, benchmark), in the vocabulary of load_runs.

    The paper writes a mixture's preference as harmless+helpful and the unaligned base as method none;
    here they are `mixed` (dataset.preference) and stage `baseline`, so both join on the same columns.
    """
    paper = pd.read_csv(
        files("alignbench.report") / "paper_results.csv", keep_default_na=False, dtype={"table": int, "value": float}
    )
    paper["preference"] = paper["preference"].replace({"harmless+helpful": "mixed"})
    paper["stage"] = (paper["method"] == "none").map({True: "baseline", False: "trained"})
    return paper


def compare(cells: pd.DataFrame) -> pd.DataFrame:
    """Every published cell beside our mean over seeds (by paper model name) and the difference ours - paper.

    `cells` is aggregate(..., by=[dataset, paper_model, preference, adapter, method, variant]) of trained runs
    plus the baselines aggregated by [paper_model, adapter]. A published cell with no run of ours keeps NaN.
    """
    paper = paper_results()
    ours = cells.drop(columns="model").rename(
        columns={"paper_model": "model", "mean": "ours", "std": "ours_std", "n": "ours_n"}
    )
    trained = paper[paper["stage"] == "trained"].merge(
        ours[ours["stage"] == "trained"], how="left", on=[*KEY, "stage"], validate="many_to_one"
    )
    # The base does not depend on the data or the preference: one row per model and adapter.
    base_key = ["model", "adapter", "benchmark", "stage"]
    base = paper[paper["stage"] == "baseline"].merge(
        ours[ours["stage"] == "baseline"][[*base_key, "ours", "ours_std", "ours_n"]],
        how="left",
        on=base_key,
        validate="many_to_one",
    )
    joined = pd.concat([trained, base], ignore_index=True).rename(columns={"value": "paper"})
    joined["diff"] = joined["ours"] - joined["paper"]
    columns = ["table", *KEY, "paper", "ours", "ours_std", "ours_n", "diff"]
    return (
        joined[columns]
        .sort_values(["table", "dataset", "model", "preference", "variant", "method"], kind="stable")
        .reset_index(drop=True)
    )
