"""Findings: synthetic runs built to support, contradict or leave open a finding get that verdict."""

from __future__ import annotations

import pytest
from report_records import make_record

from alignbench.report.findings import FINDINGS, Verdict, check_findings
from alignbench.report.results import records_frame

FINDING_4 = (next(f for f in FINDINGS if f.number == 4),)  # DPO beats SFT (held-out preference accuracy)


def runs(sft: list[float], dpo: list[float], preference="harmless") -> list[dict]:
    """Seed-matched SFT and DPO runs of tiny_llama with the given held-out preference accuracies."""
    return [
        make_record(method=method, seed=seed, preference=preference, metrics={"eval/pref/accuracy": value})
        for method, values in (("sft", sft), ("dpo", dpo))
        for seed, value in enumerate(values)
    ]


def verdicts(records, findings=FINDING_4) -> list[str]:
    return check_findings(records_frame(records), findings)["verdict"].tolist()


def test_supported_when_dpo_beats_sft_on_every_seed():
    records = runs([0.50, 0.55, 0.52, 0.58], [0.70, 0.74, 0.69, 0.80])
    records += runs([0.50, 0.52, 0.55, 0.51], [0.60, 0.61, 0.63, 0.58], preference="helpful")
    table = check_findings(records_frame(records), FINDING_4)
    main, interaction = table.to_dict("records")
    assert main["verdict"] == Verdict.supported and main["pairs"] == 8
    assert main["effect"] == pytest.approx((0.70 + 0.74 + 0.69 + 0.80 - 2.15 + 2.42 - 2.08) / 8)
    assert main["ci_low"] > 0
    assert interaction["verdict"] == Verdict.supported  # the gain is larger on harmless pairs, seed by seed
    assert set(table["finding_verdict"]) == {Verdict.supported}


def test_contradicted_when_sft_beats_dpo():
    assert verdicts(runs([0.70, 0.74, 0.69, 0.80], [0.50, 0.55, 0.52, 0.58]))[0] == Verdict.contradicted


def test_inconclusive_when_the_interval_includes_zero_or_pairs_are_few():
    mixed = runs([0.50, 0.60, 0.55, 0.62], [0.58, 0.52, 0.60, 0.55])
    assert verdicts(mixed)[0] == Verdict.inconclusive
    assert verdicts(runs([0.5, 0.5], [0.9, 0.9]))[0] == Verdict.inconclusive  # 2 pairs: too few for a verdict


def test_failed_runs_never_make_a_pair():
    records = runs([0.50, 0.55, 0.52], [0.70, 0.74, 0.69])
    records += [
        make_record(method="sft", seed=s, status="failed", metrics={"eval/pref/accuracy": 0.99}) for s in (3, 4, 5)
    ]
    table = check_findings(records_frame(records), FINDING_4)
    assert table["pairs"].iloc[0] == 3


def test_absent_findings_name_the_sweep_that_produces_them():
    table = check_findings(records_frame(runs([0.5, 0.5, 0.5], [0.7, 0.7, 0.7])))  # no baselines, one model
    absent = table[table["finding_verdict"] == Verdict.absent].drop_duplicates("finding")
    assert dict(zip(absent["finding"], absent["sweep"], strict=False)) == {
        1: "paper",
        2: "paper",
        3: "paper_mixture",
        5: "paper_chain",
        6: "paper",
        7: "paper_merge",
        8: "paper",
    }


def test_equivalence_finding_8_lora_vs_qlora():
    finding = (next(f for f in FINDINGS if f.number == 8),)

    def adapters(delta):
        return [
            make_record(
                quant=quant,
                seed=seed,
                metrics={"eval/mmlu/acc": 0.40 + seed * 0.01 + shift, "eval/bbh/exact_match": 0.30 + shift},
            )
            for quant, shift in (("none", 0.0), ("nf4", delta))
            for seed in range(4)
        ]

    assert verdicts(adapters(0.005), finding) == [Verdict.supported, Verdict.supported]
    assert verdicts(adapters(0.2), finding) == [Verdict.contradicted, Verdict.contradicted]


def test_finding_5_pairs_sft_then_dpo_records_with_plain_dpo():
    """A chain's record (method sft_dpo, the SFT preset's LoRA shape, its SFT stage under `parent` and in its config)
    reads as method sft_dpo, variant "", and pairs with the plain DPO run of the same cell and seed."""
    from alignbench.report.results import run_axes

    finding = (next(f for f in FINDINGS if f.number == 5),)
    records = []
    for seed, (dpo, chain) in enumerate([(0.60, 0.70), (0.62, 0.75), (0.58, 0.66), (0.61, 0.72)]):
        records.append(make_record(method="dpo", seed=seed, metrics={"eval/pref/accuracy": dpo}))
        chained = make_record(
            method="sft_dpo", seed=seed, r=64, alpha=16, metrics={"eval/pref/accuracy": chain},
            parent={"stage": "sft", "run_key": f"sft{seed}", "run_dir": "/stages", "where": "shared", "reused": True},
        )  # fmt: skip
        chained["config"]["method"] |= {"sft": {"name": "sft", "max_steps": 20}, "parent_key": f"sft{seed}"}
        records.append(chained)
    assert {(a["method"], a["variant"]) for a in map(run_axes, records)} == {("dpo", ""), ("sft_dpo", "")}
    (row,) = check_findings(records_frame(records), finding).to_dict("records")
    assert row["pairs"] == 4 and row["verdict"] == Verdict.supported and row["effect"] == pytest.approx(0.105)
