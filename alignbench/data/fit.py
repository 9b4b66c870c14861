"""The truncation policy: fit each pair into `method.max_length` by cutting its prompt from the left, so a reply
always keeps tokens, before TRL (or the held-out scorer) sees it.

Why: TRL 1.16 tokenizes prompt+reply with the chat template, keeps the first `max_length` tokens (keep_start) and
silently drops every pair whose prompt alone fills `max_length` (DPOTrainer._prepare_dataset filters on
len(prompt_ids) < max_length; SFTTrainer drops rows whose labels are all masked). Multi-turn HH-RLHF prompts are long,
so at a short max_length most pairs would vanish uncounted, and held-out pairs would be scored on no reply tokens.

The rule (applied identically to training, SFT and DPO, the reference log-prob cache and the held-out metrics):
- the reply may claim up to half of max_length: the prompt gets `max_length - min(longest reply, max_length // 2)`
  tokens, chat template included (when the template alone takes more, the prompt gets `max_length - 1`);
- a prompt over that budget loses its earliest turns first (the kept part still starts on a user turn, so the roles
  keep alternating); if the last user turn alone is still too long, its text is cut from the left (the last tokens,
  where the request usually is, are kept);
- whatever is still too long is the reply's tail, cut by TRL's keep_start truncation (counted as reply_truncated);
- a pair whose prompt cannot be made short enough to leave one reply token (the chat template alone fills
  max_length) is dropped and counted (dropped_no_reply), never trained on or scored.
TRL then never drops or empties a pair: the trainer's dataset holds exactly the fitted pairs (checked).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from alignbench.data.parsers import Pair, assistant

# Part of the tokenized-dataset and reference log-prob cache keys: bump it whenever the rule above changes.
TRUNCATION_POLICY = "prompt_left_turns_reply_half/v1"
DROP_REASON = "no_reply_tokens"


@dataclass
class Fitted:
    pairs: list[Pair]
    counts: Counter = field(default_factory=Counter)  # prompt_truncated, reply_truncated, dropped_no_reply
    dropped: list[str] = field(default_factory=list)  # origins of the dropped pairs, in order


def chat_ids(tokenizer, messages: list[dict], generation_prompt: bool = False) -> list[int]:
    """Token ids exactly as TRL 1.16 builds them for conversational data (trl.data_utils._tokenize)."""
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, add_generation_prompt=generation_prompt
    )
    return list(out["input_ids"])


def reply_span(tokenizer, prompt: list[dict], reply: str) -> tuple[list[int], int]:
    """(prompt+reply ids, index where the reply starts): TRL's completion starts where the tokenized prompt (with the
    generation prompt) and prompt+reply diverge."""
    return reply_spans(tokenizer, prompt, (reply,))[0]


def reply_spans(tokenizer, prompt: list[dict], replies) -> list[tuple[list[int], int]]:
    """reply_span of each reply, the prompt tokenized once."""
    prompt_ids = chat_ids(tokenizer, prompt, generation_prompt=True)
    spans = []
    for reply in replies:
        full_ids = chat_ids(tokenizer, prompt + assistant(reply))
        start = 0
        while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
            start += 1
        spans.append((full_ids, start))
    return spans


def fit_pairs(pairs: list[Pair], tokenizer, max_length: int) -> Fitted:
    fitted = Fitted([])
    for pair in pairs:
        spans = reply_spans(tokenizer, pair.prompt, (pair.chosen, pair.rejected))
        result, prompt_cut = _fit_prompt(pair, tokenizer, max_length, spans)
        if prompt_cut:  # measured again on the prompt as cut
            spans = reply_spans(tokenizer, result.prompt, (result.chosen, result.rejected)) if result else []
        # Survives TRL's keep_start cut when the reply starts inside max_length and has a token of its own; DPO's
        # prompt ends at the earlier of the two divergence points, so both replies must pass.
        if not spans or any(start >= max_length or len(ids) <= start for ids, start in spans):
            fitted.counts["dropped_no_reply"] += 1
            fitted.dropped.append(pair.origin or "?")
            continue
        fitted.counts["prompt_truncated"] += prompt_cut
        fitted.counts["reply_truncated"] += any(len(ids) > max_length for ids, _ in spans)
        fitted.pairs.append(result)
    return fitted


def _fit_prompt(pair: Pair, tokenizer, max_length: int, spans: list) -> tuple[Pair | None, bool]:
    """(the pair with its prompt within budget, whether the prompt was cut); None when no prompt fits. `spans`: the
    replies' reply_span with the whole prompt."""
    reply = max(len(ids) - start for ids, start in spans)
    # The reply's share first; when the chat template alone leaves less than that, whatever keeps one reply token.
    for budget in dict.fromkeys((max_length - max(1, min(reply, max_length // 2)), max_length - 1)):
        fitted = _prompt_within(pair, tokenizer, budget)
        if fitted is not None:
            return fitted, fitted.prompt != pair.prompt
    return None, True


def _prompt_within(pair: Pair, tokenizer, budget: int) -> Pair | None:
    """The pair with the most prompt that takes at most `budget` tokens (generation prompt included), or None."""

    def fits(messages: list[dict]) -> bool:
        return len(chat_ids(tokenizer, messages, generation_prompt=True)) <= budget

    if fits(pair.prompt):
        return pair
    # Whole turns from the left: the longest suffix that starts on a user turn and fits. Suffixes shrink as the
    # start moves right, so the first fitting start keeps the most context.
    for start in (i for i, m in enumerate(pair.prompt) if m["role"] == "user" and i > 0):
        if fits(pair.prompt[start:]):
            return replace(pair, prompt=pair.prompt[start:])
    # The last user turn alone is too long: keep as many of its last tokens as fit (binary search on the count).
    last = pair.prompt[-1]
    ids = tokenizer(last["content"], add_special_tokens=False)["input_ids"]

    def tail(k: int) -> list[dict]:
        return [{"role": last["role"], "content": tokenizer.decode(ids[len(ids) - k :]).strip()}]

    low, high = 0, len(ids)  # fits(tail(high)) is known false
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(tail(mid)) else (low, mid)
    if low == 0 or not tail(low)[0]["content"] or not fits(tail(low)):
        return None
    return replace(pair, prompt=tail(low))


def fit_data(data, tokenizer, max_length: int, max_bad_fraction: float) -> None:
    """Fit data.train and data.test (a load.PreferenceData) in place, count what happened by reason in data.stats
    (data/{split}_prompt_truncated, _reply_truncated, _dropped_no_reply, _pairs) and data.issues, and fail when the
    drops are above dataset.max_bad_fraction of the selected pairs or leave none."""
    from alignbench.data.load import DataError, Issues

    for split, role in (("train", "training"), ("test", "held-out")):
        selected = getattr(data, split)
        fitted = fit_pairs(selected, tokenizer, max_length)
        for count in ("prompt_truncated", "reply_truncated", "dropped_no_reply"):
            data.stats[f"{split}_{count}"] = fitted.counts[count]
        data.stats[f"{split}_pairs"] = len(fitted.pairs)
        issues = Issues()
        for origin in fitted.dropped:
            issues.add(DROP_REASON, origin, f"the chat template leaves no reply token within {max_length} tokens")
        if issues.total:
            data.issues[f"{split}_dropped"] = issues.to_json()
        where, fix = f"{data.source} [{split}]", "raise method.max_length"
        if selected and not fitted.pairs:
            raise DataError(
                f"{where}: none of the {len(selected)} {role} pairs keeps a reply token within method.max_length="
                f"{max_length}: {issues.describe()}; {fix}"
            )
        if selected and issues.total / len(selected) > max_bad_fraction:
            raise DataError(
                f"{where}: {issues.total} of {len(selected)} {role} pairs ({issues.total / len(selected):.0%}) keep "
                f"no reply token within method.max_length={max_length}, above dataset.max_bad_fraction="
                f"{max_bad_fraction}: {issues.describe()}; {fix} or raise dataset.max_bad_fraction"
            )
        setattr(data, split, fitted.pairs)
