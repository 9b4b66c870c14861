"""A run's place in the study: its coordinates on every axis it can differ on, written into record.json (`study`).

Computed once, by the pipeline, from the same resolved config the run key hashes (runs.keys), so the report reads
where a run belongs instead of re-deriving it. `cell` names the configuration without its seed: two runs with the
same cell are seeds of one configuration, the only runs a table may average. It hashes every coordinate but the seed
plus a seedless digest of each config section, so a setting no coordinate names (a learning rate override) still
makes another cell.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from alignbench.runs.keys import digest, eval_key, keyed_config

VERSION = 1  # of the block's layout: a report refuses blocks newer than it knows
TINY_PREFIX = "tiny_"  # tiny_vicuna stands in for vicuna: the paper's numbers join on the name without it
# Sections of the run key summarised as digests (the named coordinates cover the axes of a study; these catch the
# rest). A comparison along an axis ignores the sections that move with it (report.findings.COUPLED).
SECTIONS = ("model", "dataset", "method", "adapter", "quant", "train")
ORDER = ["sft", "dpo", "harmless", "helpful"]  # how joined names read: "sft+dpo", "harmless+helpful"


def study_coordinates(resolved: dict[str, Any], inputs: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The `study` block of a run's record, from its resolved config (after the merge inputs and the chain stage were
    written into it). `inputs`: the study blocks of a merge's input runs, in the merge's order."""
    dataset, method, model = resolved["dataset"], resolved["method"], resolved["model"]
    adapter, quant = resolved.get("adapter") or {}, resolved.get("quant") or {}
    inputs = list(inputs)
    merge = method.get("merge")
    preference = _joined(i.get("preference") for i in inputs) if merge else dataset.get("preference")
    method_name = _joined(i.get("method") for i in inputs) if merge else method.get("name")
    steps, batch = method.get("max_steps"), method.get("batch_size")
    samples = dataset.get("train_samples") or (steps * batch * method.get("grad_accum", 1) if steps and batch else 0)
    trainer = method.get("trainer")
    shape = {"adapter": adapter.get("name"), "r": adapter.get("r"), "alpha": adapter.get("alpha")}
    if merge:  # a merge trains nothing: what its adapter is made of is its inputs' (their shape, steps, data)
        shape = {k: _common(i.get(k) for i in inputs) for k in shape}
        steps, samples = _common(i.get("steps") for i in inputs), _common(i.get("samples") for i in inputs)
    coordinates = {
        "version": VERSION,
        "dataset": dataset.get("name"),
        "preference": preference or None,
        "mixture_harmless": dataset.get("mixture_harmless") if preference == "mixed" else None,
        "method": method_name or None,
        "variant": f"merge_{merge.get('combination')}" if merge else ("mixture" if preference == "mixed" else ""),
        "loss": "+".join(method["loss_type"]) if method.get("loss_type") else None,
        "beta": method.get("beta"),
        # SFT trains on the reply tokens only (hard-wired in training.methods.sft while it is not a config key)
        "sft_loss": method.get("sft_loss", "completion") if trainer in ("sft", "sft_dpo") else None,
        "parent": next((name for name in ("sft",) if isinstance(method.get(name), dict)), None),
        "merge": _merge_label(merge) if merge else None,
        "merge_inputs": ",".join(f"{i.get('method')}:{i.get('preference')}" for i in inputs) if merge else None,
        # the inputs' configurations (so merges of differently trained inputs are different cells) and, outside the
        # cell, their runs (so a merge is compared with exactly the runs it was made of)
        "merge_input_cells": digest(sorted(str(i.get("cell")) for i in inputs))[:8] if merge else None,
        "merge_input_keys": [i.get("run_key") for i in inputs] if merge else None,
        "model": model.get("name"),
        "paper_model": (model.get("name") or "").removeprefix(TINY_PREFIX) or None,
        "kind": model.get("kind"),
        "adapter": shape["adapter"],
        "quant": quant.get("name") or "none",
        "r": shape["r"],
        "alpha": shape["alpha"],
        "steps": steps,
        "samples": samples,
        "selection_seed": dataset.get("selection_seed"),
        "eval": (resolved.get("eval") or {}).get("name"),
        "eval_settings": eval_settings(resolved.get("eval") or {}),
        "eval_key": eval_key(resolved) if "eval" in resolved and "judge" in resolved else None,
        "sections": section_digests(resolved),
        "seed": resolved.get("seed"),
    }
    coordinates["cell"] = cell_of(coordinates)
    return coordinates


NOT_IN_CELL = ("seed", "cell", "version", "merge_input_keys")  # what differs between the seeds of one configuration


def cell_of(coordinates: dict[str, Any]) -> str:
    """The configuration without its seed (and without the block's own bookkeeping)."""
    return digest({k: v for k, v in coordinates.items() if k not in NOT_IN_CELL})


def section_digests(resolved: dict[str, Any]) -> dict[str, str]:
    """A short digest per section of what the run key hashes, without anything that follows the seed: the seed
    itself, a merge's inputs (other seeds' runs) and DARE's drop seed, a chain's parent key."""
    keyed = copy.deepcopy(keyed_config(resolved)) if "train" in resolved and "eval" in resolved else resolved
    method = keyed.get("method") or {}
    method.pop("parent_key", None)
    if isinstance(method.get("merge"), dict):
        method["merge"] = {k: v for k, v in method["merge"].items() if k not in ("seed", "inputs", "input_keys")}
    return {name: digest(keyed[name])[:8] for name in SECTIONS if name in keyed}


def eval_settings(evaluation: dict[str, Any]) -> str:
    """What moves a benchmark's numbers, in a few words: 'mmlu 5-shot, bbh 3-shot, alpaca_eval v2 512 tok'."""
    parts = []
    for name in evaluation.get("benchmarks") or []:
        spec = evaluation.get(name) or {}
        words = []
        if "num_fewshot" in spec or "tasks" in spec:  # an lm-eval benchmark: shots and the item limit
            shots = spec.get("num_fewshot")
            words.append(f"{shots}-shot" if shots is not None else "task's shots")
            words += [f"limit {spec['limit']}"] if spec.get("limit") else []
            words += ["chat"] if spec.get("apply_chat_template") else []
        if "max_new_tokens" in spec:  # a generation benchmark
            words += [f"v{spec['version']}"] if spec.get("version") else []
            words += [f"{spec['num_prompts']} prompts"] if spec.get("num_prompts") else []
            words += ["with prompt"] if spec.get("score_with_prompt") else []
            words.append(f"{spec['max_new_tokens']} tok")
        parts.append(" ".join([name, *words]))
    return ", ".join(parts)


def _merge_label(merge: dict[str, Any]) -> str:
    combination = merge.get("combination")
    words = [combination]
    if combination in ("ties", "dare_linear", "dare_ties"):
        words.append(f"density {merge.get('density')}")
    if combination == "slerp":
        words.append(f"t {merge.get('t')}")
    if merge.get("weights"):
        words.append("weights " + "/".join(str(w) for w in merge["weights"]))
    if merge.get("normalize") is not None:
        words.append("normalized" if merge["normalize"] else "not normalized")
    if merge.get("svd_rank"):
        words.append(f"rank {merge['svd_rank']}")
    # Records from before method.merge.space merged the adapters' deltas (PEFT's operators): the adapter space.
    if merge.get("space", "adapter") != "weights":
        words.append(f"({merge.get('space', 'adapter')} space)")
    return " ".join(str(w) for w in words)


def _common(values: Iterable[Any]) -> Any:
    """The inputs' shared value, or their values joined when they differ (a merge of r16 and r64 adapters: "16+64")."""
    found = list(dict.fromkeys(v for v in values if v is not None))
    if len(found) == 1:
        return found[0]
    return "+".join(sorted(map(str, found))) or None


def _joined(values: Iterable[Any]) -> str:
    """sft, dpo -> "sft+dpo"; harmless, helpful -> "harmless+helpful" (the paper's names), in a fixed order."""
    found = {str(v) for v in values if v}
    return "+".join(sorted(found, key=lambda v: (ORDER.index(v) if v in ORDER else len(ORDER), v)))


def input_studies(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The study blocks of a merge's input records, each with its run key (what study_coordinates' `inputs` are)."""
    return [{**study_of(record)[0], "run_key": record.get("run_key")} for record in records]


def study_of(record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the record's study block, whether it was derived): a record written before runs had one gets it derived
    from its resolved config by the same function, a merge's inputs described by their selectors."""
    if isinstance(record.get("study"), dict):
        return record["study"], False
    config = record.get("config") or {}
    merge = (config.get("method") or {}).get("merge") or {}
    inputs = [
        {
            "method": (s.get("choices") or {}).get("method"),
            "preference": (s.get("choices") or {}).get("dataset.preference"),
        }
        for s in merge.get("inputs") or []
    ]
    return study_coordinates(_with_defaults(config), inputs), True


def _with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """An old record's config with the sections study_coordinates reads, empty where the record has none."""
    return {"dataset": {}, "method": {}, "model": {}, **config}
