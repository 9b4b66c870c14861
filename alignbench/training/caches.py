"""Work that the runs of a grid share, cached on disk under a key of what it depends on and nothing else.

- Reference log-probs of DPO: the base model's summed log-probs (and token counts) of every chosen and rejected
  reply. They depend on the base weights, quantization, compute precision, tokenizer and chat template, the exact
  training pairs and the sequence length/truncation; not on beta, learning rate, loss type, LoRA rank or seed. A
  chained run's reference is its SFT stage's model, so the stage's run key is part of its key.
  (TRL's own precompute cache hashes all model weights, LoRA init included, so it never hits across runs.)
- Tokenized training sets, with the same discipline.

Entries are keyed by CacheDir's one key policy (what they depend on, cache version, library versions) and written
atomically (a file renamed into place, a folder published whole with its manifest: runs.files) with a checksum, so
concurrent jobs never read half an entry and a damaged one is detected and recomputed, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignbench.data.fit import TRUNCATION_POLICY
from alignbench.data.parsers import Pair
from alignbench.runs import files
from alignbench.runs.dirs import CacheDir
from alignbench.runs.keys import digest

log = logging.getLogger(__name__)

# Bump when what is stored changes (CacheDir.key adds the library versions: TRL changing how it tokenizes or scores).
CACHE_VERSION = 1
REF_FIELDS = ("ref_chosen_logps", "ref_rejected_logps", "chosen_tokens", "rejected_tokens")


def examples_digest(pairs: list[Pair]) -> str:
    """The exact training examples, in order: covers dataset, revision, preference, selection and count."""
    return digest([[p.prompt, p.chosen, p.rejected] for p in pairs])


def tokenizer_digest(tokenizer) -> str:
    """Everything that decides the token ids: the fast tokenizer's whole definition (vocabulary, merges,
    normalizer, pre-tokenizer, post-processor), special tokens, BOS/EOS handling and the chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    definition = backend.to_str() if backend is not None else sorted(tokenizer.get_vocab().items())
    flags = {k: tokenizer.init_kwargs.get(k) for k in ("add_bos_token", "add_eos_token", "legacy")}
    return digest([definition, flags, tokenizer.chat_template, tokenizer.all_special_tokens, type(tokenizer).__name__])


@dataclass
class RunCaches:
    """Keys of one run's shareable work; `None` folder disables caching."""

    folder: CacheDir | Path | None  # the cache (paths.cache_dir)
    model: dict[str, Any]  # what the base weights are: model config minus where they are, plus quantization
    precision: str
    tokenizer: str  # tokenizer_digest
    examples: str  # examples_digest
    max_length: int
    truncation: str = TRUNCATION_POLICY  # the pairs are fitted by this policy, then cut keep_start by TRL
    # The run key of the stage whose model is the reference instead of the bare base (method=sft_dpo: its SFT run);
    # None: the base itself. Keyed only when set, so plain DPO runs keep their entries.
    parent: str | None = None

    def ref_key(self) -> str:
        return CacheDir.key(
            "ref_logps",
            CACHE_VERSION,
            {
                **({"parent": self.parent} if self.parent else {}),
                "model": self.model,
                "precision": self.precision,
                "tokenizer": self.tokenizer,
                "examples": self.examples,
                "max_length": self.max_length,
                "truncation": self.truncation,
            },
        )

    def tokenized_key(self, trainer: str, dataset_name: str, preparation: dict | None = None) -> str:
        """`preparation`: what else shapes the prepared dataset (SFT's loss mask, packing, eos)."""
        return CacheDir.key(
            "tokenized",
            CACHE_VERSION,
            {
                "trainer": trainer,
                "dataset": dataset_name,
                "tokenizer": self.tokenizer,
                "examples": self.examples,
                "max_length": self.max_length,
                "truncation": self.truncation,
                **({"preparation": preparation} if preparation else {}),
            },
        )

    def ref_logps(self, n: int, compute: Callable[[], dict[str, list]]) -> tuple[dict[str, list], bool]:
        """(columns, hit): the cached reference columns for n examples, or freshly computed and stored."""
        path = CacheDir(self.folder).ref_logps / f"{self.ref_key()}.json" if self.folder else None
        if path is not None and path.is_file():
            cached = _read_checked(path, n)
            if cached is not None:
                return cached, True
        columns = compute()
        if path is not None:
            _write_checked(path, columns)
        return columns, False

    def tokenized(
        self, trainer: str, dataset_name: str, compute: Callable[[], Any], preparation: dict | None = None
    ) -> tuple[Any, bool]:
        """(dataset, hit): a datasets.Dataset saved with save_to_disk, or freshly tokenized and stored."""
        from datasets import Dataset

        if self.folder is None:
            return compute(), False
        target = CacheDir(self.folder).tokenized / self.tokenized_key(trainer, dataset_name, preparation)
        if target.is_dir():
            # Only the files save_to_disk wrote are listed: later ones beside them (TRL's map caches) are not ours.
            problem = files.verify(target)
            try:
                if problem is None:
                    return Dataset.load_from_disk(str(target)), True
                log.warning("tokenized cache is damaged (%s); tokenizing again", problem)
            except Exception as err:  # unreadable arrow files: recompute, never use
                log.warning("tokenized cache %s is unreadable (%s); tokenizing again", target, err)
        dataset = compute()
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))  # unique: jobs run at once
        try:
            dataset.save_to_disk(str(staging))
            files.write_manifest(staging, {"key": target.name})
            staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared
            files.publish(staging, target)
        except OSError as err:  # another job stored the same entry meanwhile: theirs is as good
            log.info("tokenized cache %s not stored (%s)", target, err)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dataset, False


def _read_checked(path: Path, n: int) -> dict[str, list] | None:
    try:
        entry = json.loads(path.read_text())
        columns = entry["columns"]
        ok = entry["checksum"] == _checksum(columns) and all(len(columns[f]) == n for f in REF_FIELDS)
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("reference log-prob cache %s is unreadable (%s); computing again", path, err)
        return None
    if not ok:
        log.warning("reference log-prob cache %s does not match its checksum or size; computing again", path)
        return None
    return columns


def _write_checked(path: Path, columns: dict[str, list]) -> None:
    files.write_json_atomic(path, {"checksum": _checksum(columns), "columns": columns})


def _checksum(columns: dict[str, list]) -> str:
    # repr of a Python float round-trips exactly, so the checksum covers every bit of every value.
    return hashlib.sha256(repr([columns[f] for f in REF_FIELDS]).encode()).hexdigest()
