"""A sequence-classification scorer (RealToxicity's ToxicityModel, or a tiny local stand-in): one logit per text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alignbench.config.hub import Unavailable, hub_missing, not_available
from alignbench.config.schema import JudgeSpec, ScorerConfig
from alignbench.config.sources import hub_revision, short
from alignbench.runs.dirs import CacheDir


@dataclass
class Scorer:
    name: str  # what produced the scores, as the record keeps it: e.g. nicholasKluge/ToxicityModel@<revision>
    model: Any
    tokenizer: Any
    batch_size: int = 32

    def score(self, prompts: list[str] | None, texts: list[str]) -> list[float]:
        """The first logit per text (ToxicityModel: positive = non-toxic; reward models: the reward)."""
        return [row[0] for row in self.logits(prompts, texts)]

    def logits(self, prompts: list[str] | None, texts: list[str]) -> list[list[float]]:
        """All logits per text, each optionally given its prompt (encoded as a text pair)."""
        import torch

        rows = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            pairs = (prompts[start : start + self.batch_size],) if prompts is not None else ()
            enc = self.tokenizer(
                *pairs,
                batch,
                padding=True,
                truncation=True,
                return_tensors="pt",
                max_length=min(self.tokenizer.model_max_length, 512),
            )
            with torch.no_grad():
                rows += self.model(**enc.to(self.model.device)).logits.float().tolist()
        return rows


def load_scorer(cfg: ScorerConfig | JudgeSpec, cache: CacheDir, key: str = "eval.real_toxicity.scorer") -> Scorer:
    """A sequence-classification model from `path`, a tiny local build, or the hub (checked first: no retry loop);
    `key` names the config section in messages."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from alignbench.modeling.models import model_location

    location = model_location(cfg, cache)
    revision = hub_revision(cfg)
    if location == cfg.hub_id and (missing := hub_missing(cfg.hub_id, revision, "model")):
        instead = f"Point {key}.path at a local copy"
        raise Unavailable(not_available(f"{key} {cfg.name!r}", cfg.hub_id, revision, missing, instead, "model"))
    tokenizer = AutoTokenizer.from_pretrained(location, revision=revision)
    model = AutoModelForSequenceClassification.from_pretrained(location, revision=revision).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    if _has_cuda():
        model = model.to("cuda")
    batch_size = getattr(cfg, "batch_size", Scorer.batch_size)
    return Scorer(short(location) + (f"@{revision}" if revision else ""), model, tokenizer, batch_size)


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
