"""Held-out preference metrics: does the model score the chosen reply above the rejected one?

Each reply is scored by its summed log-probability given the chat-templated prompt, tokenized the way TRL
tokenizes training pairs (prompt prefix, then the reply; sequence cut at max_length from the end). The pairs come
fitted by the same truncation policy as the training pairs (alignbench.data.fit): every one keeps reply tokens, and
the held-out pairs that could not are excluded and counted there (data/test_dropped_no_reply), never scored.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbench.data.fit import reply_span
from alignbench.data.parsers import Pair


@dataclass
class ReplyScores:
    """Per pair: summed log-prob and token count of the chosen and the rejected reply."""

    chosen_logp: list[float]
    chosen_tokens: list[int]
    rejected_logp: list[float]
    rejected_tokens: list[int]

    def normalised_margins(self) -> list[float]:
        return [
            c / nc - r / nr
            for c, nc, r, nr in zip(
                self.chosen_logp, self.chosen_tokens, self.rejected_logp, self.rejected_tokens, strict=True
            )
        ]


def score_replies(model, tokenizer, pairs: list[Pair], max_length: int, batch_size: int) -> ReplyScores:
    sequences = []
    for pair in pairs:
        for reply in (pair.chosen, pair.rejected):
            sequences.append(_tokenize(tokenizer, pair.prompt, reply, max_length))
    logps, counts = [], []
    for start in range(0, len(sequences), batch_size):
        batch_logp, batch_count = _completion_logps(model, sequences[start : start + batch_size], tokenizer)
        logps += batch_logp
        counts += batch_count
    empty = [pairs[i // 2].origin or str(i // 2) for i, n in enumerate(counts) if n == 0]
    if empty:  # data.fit excludes these before scoring; a pair scored on nothing would count as a coin flip lost
        raise ValueError(f"held-out pairs with no reply token within max_length={max_length}: {empty[:5]}")
    return ReplyScores(logps[0::2], counts[0::2], logps[1::2], counts[1::2])


def preference_metrics(policy: ReplyScores, reference: ReplyScores | None = None) -> dict[str, float]:
    """accuracy and margin on length-normalised log-probs; with a reference, implicit-reward accuracy too."""
    margins = policy.normalised_margins()
    n = len(margins)
    metrics = {
        "accuracy": sum(m > 0 for m in margins) / n,
        "margin": sum(margins) / n,
    }
    if reference is not None:
        # DPO's implicit reward is beta * log(pi/ref): its sign does not depend on beta.
        reward_margins = [
            (pc - rc) - (pr - rr)
            for pc, rc, pr, rr in zip(
                policy.chosen_logp, reference.chosen_logp, policy.rejected_logp, reference.rejected_logp, strict=True
            )
        ]
        metrics["reward_accuracy"] = sum(m > 0 for m in reward_margins) / n
        metrics["reward_margin"] = sum(reward_margins) / n
    return metrics


def _tokenize(tokenizer, prompt: list[dict], reply: str, max_length: int) -> tuple[list[int], int]:
    """(input ids, index where the reply starts), as TRL builds DPO sequences with keep_start truncation."""
    full_ids, start = reply_span(tokenizer, prompt, reply)
    return full_ids[:max_length], start


def _completion_logps(model, batch: list[tuple[list[int], int]], tokenizer) -> tuple[list[float], list[int]]:
    import torch

    device = next(model.parameters()).device
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    reply_mask = torch.zeros((len(batch), width), dtype=torch.bool)
    for row, (ids, start) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        reply_mask[row, start : len(ids)] = True
    input_ids, attention, reply_mask = input_ids.to(device), attention.to(device), reply_mask.to(device)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()
    targets = input_ids[:, 1:]
    token_logp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)
    mask = reply_mask[:, 1:]
    return (token_logp * mask).sum(-1).tolist(), mask.sum(-1).tolist()
