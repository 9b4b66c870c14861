"""Findings: the paper's takeaways on its own numbers, and the cell-level statistic on synthetic runs."""

from __future__ import annotations

import numpy as np
import pytest
from report_records import make_record

from alignbench.report.findings import Check, Finding, FindingError, check_findings, published_frame
from alignbench.report.results import records_frame

MODELS = ("tiny_llama", "tiny_vicuna", "tiny_mistral", "tiny_mistral_instruct")


def mine(*checks: Check) -> tuple[Finding, ...]:
    return (Finding("X1", "a claim of my own", "my sweep", "adhoc", checks),)


DPO_BEATS_SFT = Check("DPO - SFT, MMLU", "mmlu/acc", "method", "dpo", "sft")


def runs(gains: dict[str, list[float]], base=0.40) -> list[dict]:
    """Per model (a cell), seed-matched SFT and DPO runs whose MMLU differ by the given gains."""
    records = []
    for model, seed_gains in gains.items():
        for seed, gain in enumerate(seed_gains):
            records.append(make_record(model=model, method="sft", seed=seed, metrics={"eval/mmlu/acc": base}))
            records.append(make_record(model=model, method="dpo", seed=seed, metrics={"eval/mmlu/acc": base + gain}))
    return records


def test_a_consistent_gain_over_cells_is_supported_with_cells_as_the_unit():
    gains = {m: [0.05 + 0.01 * i, 0.06, 0.04 + 0.005 * i] for i, m in enumerate(MODELS)}
    (row,) = check_findings(records_frame(runs(gains)), mine(DPO_BEATS_SFT)).to_dict("records")
    cell_effects = [np.mean(v) for v in gains.values()]
    assert row["cells"] == 4 and row["seeds"] == 12
    assert row["effect"] == pytest.approx(np.mean(cell_effects))
    assert row["verdict"] == "supported" and row["finding_verdict"] == "supported"
    assert row["holds"] == 4 and row["p_improvement"] == 1.0


def test_three_agreeing_but_noisy_seeds_of_one_cell_are_not_enough():
    (row,) = check_findings(records_frame(runs({"tiny_llama": [0.01, 0.5, 0.02]})), mine(DPO_BEATS_SFT)).to_dict(
        "records"
    )
    assert row["cells"] == 1 and row["verdict"] == "inconclusive"
    assert "1 cell" in row["basis"]


def test_cells_that_disagree_are_inconclusive_even_if_each_is_precise():
    gains = {"tiny_llama": [0.1, 0.1, 0.1], "tiny_vicuna": [-0.1, -0.1, -0.1], "tiny_mistral": [0.1, 0.1, 0.1]}
    (row,) = check_findings(records_frame(runs(gains)), mine(DPO_BEATS_SFT)).to_dict("records")
    assert row["verdict"] == "inconclusive" and row["holds"] == 2


def test_sft_beating_dpo_contradicts():
    gains = {m: [-0.05, -0.06, -0.04] for m in MODELS}
    assert check_findings(records_frame(runs(gains)), mine(DPO_BEATS_SFT))["verdict"].item() == "contradicted"


def test_a_side_with_two_configurations_is_left_out_never_averaged():
    records = runs({"tiny_llama": [0.05, 0.06, 0.04], "tiny_vicuna": [0.05, 0.06, 0.04]})
    # tiny_vicuna's SFT also ran at another rank: which SFT is "the" SFT of that cell is not for the report to pick
    records += [
        make_record(model="tiny_vicuna", method="sft", r=8, seed=s, metrics={"eval/mmlu/acc": 0.9}) for s in range(3)
    ]
    (row,) = check_findings(records_frame(records), mine(DPO_BEATS_SFT)).to_dict("records")
    assert row["cells"] == 1 and row["left_out"] == 3


def test_holm_adjusts_across_the_checks_of_the_report():
    gains = {m: [0.02, 0.05, 0.0] for m in MODELS[:3]}
    frame = records_frame(runs(gains))
    alone = check_findings(frame, mine(DPO_BEATS_SFT))
    many = check_findings(frame, mine(*[DPO_BEATS_SFT] * 5))
    assert many["p_holm"].iloc[0] == pytest.approx(min(1.0, 5 * alone["p"].iloc[0]))


def test_a_finding_naming_an_unknown_metric_or_axis_is_one_clear_error():
    frame = records_frame(runs({"tiny_llama": [0.1, 0.1]}))
    with pytest.raises(FindingError, match="finding X1, check 'bad': unknown metric 'mmlu/accuracy'"):
        check_findings(frame, mine(Check("bad", "mmlu/accuracy", "method", "dpo", "sft")))
    with pytest.raises(FindingError, match="unknown coordinate 'methd'"):
        check_findings(frame, mine(Check("bad", "mmlu/acc", "methd", "dpo", "sft")))
    with pytest.raises(FindingError, match="needs two by_values"):
        check_findings(frame, mine(Check("bad", "mmlu/acc", "method", "dpo", "sft", by="model", by_values=("a",))))
    with pytest.raises(FindingError, match="findings share a key: X1"):
        check_findings(frame, mine(DPO_BEATS_SFT) * 2)


def test_absent_takeaways_name_the_sweep_that_produces_them():
    table = check_findings(records_frame(runs({"tiny_llama": [0.1, 0.1, 0.1]})))
    absent = table[table["finding_verdict"] == "absent"].drop_duplicates("finding")
    assert dict(zip(absent["finding"], absent["sweep"], strict=True)) == {
        "P1": "paper",
        "P2": "paper",
        "P3": "paper_mixture",
        "P4": "paper",
        "P5": "paper_chain",
        "P6": "paper",
        "P7": "paper",
        "P8": "paper_merge",
    }
    assert set(table["finding"]) == {f"P{i}" for i in range(1, 9)}


# Where the paper's text says each primary check holds (Sec. 4-6), and the exceptions it reports.
PUBLISHED = {
    "P1": (8, 8),  # BeaverTails beats HH-RLHF on MMLU, helpful, every model and method
    "P2": (4, 4),  # Mistral-Instruct SFT at or below its base, both datasets and preferences
    "P3": (4, 4),  # the mixture loses RealToxicity against its two single preferences
    "P4": (6, 8),  # DPO beats SFT on harmlessness except for pre-trained Mistral-7B (both adapters)
    "P6": (12, 12),  # DPO's advantage over SFT on AlpacaEval is larger on the instruct model of each family
    "P7": (4, 4),  # Mistral-Instruct's BBH drops after SFT
    "P8": (3, 3),  # DARE beats the mean of its inputs on MMLU (Mistral-Instruct: the paper prints MMLU for it)
}


def test_every_takeaway_holds_on_the_published_numbers_where_the_paper_says_it_does():
    table = check_findings(records_frame(runs({"tiny_llama": [0.1, 0.1]})))
    primary = table[table["role"] == "primary"].set_index("finding")
    for key, (holds, cells) in PUBLISHED.items():
        assert (primary.loc[key, "paper_holds"], primary.loc[key, "paper_cells"]) == (holds, cells), key
    assert "not in: mistral/qlora, mistral/lora" in primary.loc["P4", "paper_text"]
    assert primary.loc["P5", "paper_text"] == "no published numbers"  # advice the paper did not run
    collapse = table[table["check"].str.startswith("collapse")].iloc[0]
    assert (collapse["paper_holds"], collapse["paper_cells"]) == (2, 2)


def test_published_frame_has_one_pseudo_run_per_published_cell_with_its_base():
    paper = published_frame()
    trained = paper[paper["stage"] == "trained"]
    assert len(trained) == len(trained.drop_duplicates(["dataset", "model", "preference", "peft", "method", "variant"]))
    base = paper[(paper["stage"] == "baseline") & (paper["model"] == "mistral")]
    assert set(base["mmlu/acc"]) == {0.59}


def test_power_is_reported_and_flags_a_design_too_small_for_the_papers_effect():
    table = check_findings(records_frame(runs({"tiny_mistral_instruct": [0.1, 0.1]})), seeds=2)
    primary = table[table["role"] == "primary"].set_index("finding")
    assert primary.loc["P2", "mde"] > 0 and "2 seeds" in primary.loc["P2", "mde_basis"]
    assert "default" in primary.loc["P2", "mde_basis"]  # no cell of ours has two seeds of that check yet
    assert primary.loc["P8", "underpowered"]  # 3 cells x 2 seeds at MMLU's default sd cannot see +0.007
    assert not primary.loc["P1", "underpowered"]  # 8 cells x 2 seeds can see +0.013


def test_the_chain_record_pairs_with_plain_dpo_of_the_same_cell_and_seed():
    """A chain's record (method sft_dpo, the SFT preset's LoRA shape, its SFT stage in its config) pairs with the
    plain DPO run of the same model and seed: P5's primary check."""
    records = []
    for model in MODELS[::2]:  # two pre-trained models: two cells
        for seed, (dpo, chain) in enumerate([(1.0, 1.6), (1.1, 1.8), (0.9, 1.5)]):
            records.append(make_record(model=model, method="dpo", seed=seed, metrics={"eval/real_toxicity/score": dpo}))
            chained = make_record(
                model=model, method="sft_dpo", seed=seed, r=64, alpha=16, metrics={"eval/real_toxicity/score": chain}
            )
            records.append(chained)
    table = check_findings(records_frame(records))
    row = table[(table["finding"] == "P5") & (table["role"] == "primary")].iloc[0]
    assert row["cells"] == 2 and row["seeds"] == 6 and row["effect"] == pytest.approx(0.6333, abs=1e-3)
