"""TRL trainers that take their tokenized datasets and DPO reference log-probs from alignbench's shared caches.

The hooks are TRL's own dataset-preparation steps (`_prepare_dataset`, `_precompute_ref_logps`): on a miss they
run TRL's code unchanged and store the result; on a hit TRL gets exactly the columns it would have computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from datasets import Dataset, Value
from trl import DPOConfig, DPOTrainer, SFTTrainer

from alignbench.training.caches import RunCaches
from alignbench.training.resumable import Resumable

T = TypeVar("T")


def rng_neutral(compute: Callable[[], T]) -> Callable[[], T]:
    """`compute` with torch's random state restored afterwards. A cache miss runs TRL code that draws from it
    (accelerate seeds the precompute loader from it); a hit does not. Without this, dropout masks and so a run's
    result would depend on whether the cache was warm."""

    def neutral() -> T:
        devices = list(range(torch.cuda.device_count()))
        with torch.random.fork_rng(devices=devices):
            return compute()

    return neutral


def reference_without_dropout(model) -> None:
    """Given a PeftModel that already carries an adapter (method=sft_dpo: the SFT stage's), TRL 1.16 adds a copy of it
    named "ref" and computes the reference with that adapter active, but in whatever mode the model is in: LoRA
    modules built by PEFT start in train mode, so the reference would carry the adapter's dropout (and differ from
    the SFT model, and from run to run). The reference is a fixed model: its dropout goes. A plain DPO run has no
    "ref" adapter (its reference is the base, adapter off), so nothing changes for it."""
    for module in model.modules():
        dropouts = getattr(module, "lora_dropout", None)
        if isinstance(dropouts, torch.nn.ModuleDict) and "ref" in dropouts:
            dropouts["ref"] = torch.nn.Identity()


class _TokenizedFromCache:
    """Mixin: tokenized datasets come from RunCaches.tokenized (keyed by tokenizer, examples and max length)."""

    caches: RunCaches | None  # None: TRL's own preparation, uncached
    cache_hits: dict[str, bool]
    trainer_name: str
    preparation: dict = {}  # what else shapes the prepared dataset: part of its cache key

    def _prepare_dataset(self, dataset, *args, **kwargs):
        name = kwargs.get("dataset_name", args[-1] if args else "train")
        prepare_with_trl = super()._prepare_dataset

        def prepare():
            return self._finish_preparation(prepare_with_trl(dataset, *args, **kwargs))

        if self.caches is None:
            return prepare()
        prepared, hit = self.caches.tokenized(self.trainer_name, name, rng_neutral(prepare), self.preparation)
        self.cache_hits[f"tokenized_{name}"] = hit
        return prepared

    def _finish_preparation(self, dataset):
        """A step after TRL's preparation, cached with it (SFT: mask the eos labels)."""
        return dataset


class CachedSFTTrainer(Resumable, _TokenizedFromCache, SFTTrainer):
    trainer_name = "sft"

    def __init__(self, *args, caches: RunCaches | None, train_eos: bool = True, **kwargs):
        self.caches, self.cache_hits = caches, {}  # set first: TRL prepares the dataset inside __init__
        self.eos_token_id = kwargs["processing_class"].eos_token_id
        config = kwargs["args"]
        self.preparation = {
            "completion_only_loss": config.completion_only_loss,
            "packing": config.packing,
            "train_eos": train_eos,
        }
        super().__init__(*args, **kwargs)

    def _finish_preparation(self, dataset):
        if self.preparation["train_eos"]:
            return dataset
        # As TRL's SFTTrainer of early 2024 with pad = eos, whose collator masked every pad, hence every eos.
        eos = self.eos_token_id  # the tokenizer's: TRL prepares the dataset before it sets processing_class

        def mask(example):
            pairs = zip(example["input_ids"], example["labels"], strict=True)
            return {"labels": [-100 if token == eos else label for token, label in pairs]}

        return dataset.map(mask, desc="Masking eos labels")


class CachedDPOTrainer(Resumable, _TokenizedFromCache, DPOTrainer):
    trainer_name = "dpo"
    args: DPOConfig  # the Trainer's TrainingArguments, as DPOTrainer is given them

    def __init__(self, *, caches: RunCaches | None, args: DPOConfig, **kwargs):
        self.caches, self.cache_hits = caches, {}  # set first: TRL prepares the dataset inside __init__
        # The shared cache the reference log-probs come from; None: TRL computes them itself (or not at all).
        ref_cache = caches if args.precompute_ref_log_probs else None
        # With precompute on, TRL's __init__ hashes every weight (tens of seconds for a 7B base) to key a cache that
        # never hits across runs. So TRL is built with it off and the reference columns are added here, from the
        # shared cache or computed by TRL's own code; from then on TRL reads them exactly as it reads its own.
        if ref_cache is not None:
            args.precompute_ref_log_probs = False
        super().__init__(args=args, **kwargs)
        reference_without_dropout(self.model)
        if ref_cache is not None:
            args.precompute_ref_log_probs = self.precompute_ref_logps = True
            self._precompute_model_hash = ref_cache.ref_key()  # keys TRL's own file cache on a miss: never collides
            batch_size = args.precompute_ref_batch_size or args.per_device_train_batch_size
            self.train_dataset = self._precompute_ref_logps(self.train_dataset, "train", batch_size)

    def _precompute_ref_logps(self, dataset: Dataset, name: str, batch_size: int) -> Dataset:
        reference_without_dropout(self.model)  # TRL's own precompute (shared caches off) runs inside its __init__
        precompute = super()._precompute_ref_logps
        if self.caches is None:
            return precompute(dataset, name, batch_size)
        max_length = self.args.max_length

        def compute() -> dict[str, list]:
            done = precompute(dataset, name, batch_size)
            columns = {key: list(done[key]) for key in ("ref_chosen_logps", "ref_rejected_logps")}
            # Reply tokens that survive keep_start truncation: what a length-normalised DPO-family loss divides by.
            for reply in ("chosen", "rejected"):
                columns[f"{reply}_tokens"] = [
                    max(0, min(len(p) + len(c), max_length or 10**9) - len(p))
                    for p, c in zip(done["prompt_ids"], done[f"{reply}_ids"], strict=True)
                ]
            return columns

        columns, hit = self.caches.ref_logps(len(dataset), rng_neutral(compute))
        self.cache_hits[f"ref_logps_{name}"] = hit
        for key in ("ref_chosen_logps", "ref_rejected_logps"):  # float32, as TRL's own precompute stores them
            dataset = dataset.add_column(key, columns[key], feature=Value("float32"))
        return dataset
