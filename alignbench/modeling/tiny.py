"""Build tiny random-init Llama/Mistral models with a BPE tokenizer trained on the bundled text, cached on disk.

The result is an ordinary `save_pretrained` folder, so PEFT, lm-eval or vLLM load the base by path.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from alignbench.config.schema import TinySpec
from alignbench.data.load import SAMPLES_DIR
from alignbench.runs.dirs import CacheDir

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]
# Strings of the paper's chat templates, so the tokenizer learns them as whole pieces.
TEMPLATE_TEXT = [
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions. USER: ASSISTANT:",
    "[INST] [/INST]",
]
BUILDER_VERSION = 1  # bump when the build procedure changes, so caches are not reused across versions


def corpus_lines() -> list[str]:
    """Every string of the bundled preference samples, in a fixed order (not the benchmark miniatures: a
    tokenizer that has seen the test items would flatter them)."""
    lines = TEMPLATE_TEXT * 64  # repeated so BPE learns them as a few merged tokens
    for path in sorted(SAMPLES_DIR.rglob("*.jsonl")):
        if "benchmarks" in path.relative_to(SAMPLES_DIR).parts:
            continue
        for row in path.read_text().splitlines():
            lines.extend(value for value in json.loads(row).values() if isinstance(value, str))
    return lines


def tiny_model_path(spec: TinySpec, name: str, cache: CacheDir) -> Path:
    """Build the model once per (spec, corpus, builder version, library versions); later calls return the cached
    folder."""
    lines = corpus_lines()
    target = cache.tiny / f"{name}-{CacheDir.key('tiny', BUILDER_VERSION, [asdict(spec), lines])}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        _build(spec, lines, staging)
        os.replace(staging, target)  # atomic: concurrent builders never see a half-written folder
    except OSError:
        if not (target / "config.json").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _build(spec: TinySpec, lines: list[str], out: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        LlamaConfig,
        MistralConfig,
        PreTrainedTokenizerFast,
    )

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(lines, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    config_class = {"llama": LlamaConfig, "mistral": MistralConfig}[spec.arch]
    config = config_class(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        num_labels=1,  # read by the `score` head only: one logit, like reward and toxicity models
    )
    torch.manual_seed(spec.seed)
    auto = {"causal_lm": AutoModelForCausalLM, "score": AutoModelForSequenceClassification}[spec.head]
    model = auto.from_config(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
