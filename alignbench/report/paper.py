"""The paper's published numbers (Tables 2-5) and their join with a sweep's cell means."""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

from alignbench.config.benchmarks import SPECS

# paper_results.csv's cell key; model holds alignbench's option names of the paper's models, adapter lora | qlora.
KEY = ["dataset", "model", "preference", "adapter", "method", "variant", "benchmark"]
TABLES = {2: "preference mixture", 3: "merging", 4: "QLoRA", 5: "LoRA"}
KINDS = {"llama": "pretrained", "vicuna": "instruct", "mistral": "pretrained", "mistral_instruct": "instruct"}


def paper_results() -> pd.DataFrame:
    """The published values, one row per (table, cell, benchmark), in the vocabulary of load_runs.

    The paper writes a mixture's preference as harmless+helpful (a merge's too) and the unaligned base as method
    none; here a mixture is `mixed` (dataset.preference; a merge keeps harmless+helpful, as its record says) and the
    base is stage `baseline`, so both join on the same columns.
    """
    paper = pd.read_csv(
        files("alignbench.report") / "paper_results.csv", keep_default_na=False, dtype={"table": int, "value": float}
    )
    paper["benchmark"] = paper["benchmark"].replace({s.paper: name for name, s in SPECS.items() if s.paper})
    mixture = paper["variant"] == "mixture"
    paper.loc[mixture, "preference"] = "mixed"
    paper.loc[mixture, "variant"] = "mixture"
    paper["stage"] = (paper["method"] == "none").map({True: "baseline", False: "trained"})
    return paper


def compare(trained: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Every published cell beside our mean over seeds and the difference ours - paper.

    `trained`: aggregate(..., by=[dataset, paper_model, preference, peft, method, variant]) of trained runs, one
    configuration per key; `base`: the bases aggregated by [paper_model, quant, peft]. A published cell with no run
    of ours keeps NaN. Where `trained` or `base` has a `stand_in` column (the run is a tiny stand-in for the paper's
    7B model), `stand_in` says so per row and such a row has no difference: a random-init tiny model beside a
    published 7B number tells nothing.
    """
    paper = paper_results()
    renamed = {"paper_model": "model", "peft": "adapter", "mean": "ours", "std": "ours_std", "n": "ours_n"}
    ours = trained.rename(columns=renamed)
    ours = ours.assign(stand_in=ours["stand_in"] if "stand_in" in ours else False)
    ours_columns = ["ours", "ours_std", "ours_n", "stand_in"]
    joined_trained = paper[paper["stage"] == "trained"].merge(
        ours[[*KEY, *ours_columns]], how="left", on=KEY, validate="many_to_one"
    )
    # The base does not depend on the data or the preference: one row per model and adapter (its quantization).
    base_key = ["model", "adapter", "benchmark"]
    ours_base = base.rename(columns=renamed)
    ours_base = ours_base.assign(stand_in=ours_base["stand_in"] if "stand_in" in ours_base else False)
    # A measured 7B base before a tiny stand-in's, where both are there.
    ours_base = ours_base.sort_values("stand_in", kind="stable")[[*base_key, *ours_columns]].drop_duplicates(base_key)
    joined_base = paper[paper["stage"] == "baseline"].merge(ours_base, how="left", on=base_key, validate="many_to_one")
    joined = pd.concat([joined_trained, joined_base], ignore_index=True).rename(columns={"value": "paper"})
    joined["stand_in"] = joined["stand_in"].astype(object).where(joined["ours"].notna(), False).astype(bool)
    joined["diff"] = (joined["ours"] - joined["paper"]).where(~joined["stand_in"])
    columns = ["table", *KEY, "paper", "ours", "ours_std", "ours_n", "stand_in", "diff"]
    return (
        joined[columns]
        .sort_values(["table", "dataset", "model", "preference", "variant", "method"], kind="stable")
        .reset_index(drop=True)
    )
