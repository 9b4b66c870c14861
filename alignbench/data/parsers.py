"""Raw hub rows -> preference pairs, one parser per dataset schema (pure Python, no heavy imports)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from alignbench.config.registry import Registry
from alignbench.config.schema import Preference

Message = dict[str, str]


def assistant(text: str) -> list[Message]:
    """A reply as the one-message conversation TRL's conversational formats expect."""
    return [{"role": "assistant", "content": text}]


@dataclass(frozen=True)
class Pair:
    """A conversation that ends on a user turn, and two candidate assistant replies."""

    prompt: list[Message]
    chosen: str
    rejected: str
    # Where the raw row is ("train.jsonl:17" or "train row 17"), for messages: not part of the pair's identity.
    origin: str = field(default="", compare=False)


class BadRow(ValueError):
    """A raw row that does not fit its schema; counted by `reason` (a short slug, the key of its data/ metric) and
    reported with the detail, never silently used or coerced."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


HH_HUMAN, HH_ASSISTANT = "\n\nHuman:", "\n\nAssistant:"
_HH_TURN = re.compile(r"\n\n(Human|Assistant):")


def _field(row: dict, key: str, kind: type):
    """row[key], exactly of `kind`: "0", "true" or 1.0 where the schema has an int or a bool is a bad row, never
    coerced (a stringly-typed export would otherwise flip labels silently)."""
    if not isinstance(row, dict):
        raise BadRow("not_an_object", f"the row is a JSON {type(row).__name__}, not an object")
    value = row.get(key)
    if value is None:
        raise BadRow("missing_field", f"missing field {key!r}")
    # bool is an int subclass: a safety flag of 1 or an id of True would be a schema mismatch
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRow("wrong_type", f"field {key!r} should be {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def hh_turns(dialogue: str) -> list[Message]:
    """'\\n\\nHuman: a\\n\\nAssistant: b...' -> chat messages; consecutive turns of one speaker are merged."""
    parts = _HH_TURN.split(dialogue)
    if parts[0].strip():
        raise BadRow("not_a_dialogue", "dialogue does not start with a Human turn")
    messages: list[Message] = []
    for speaker, text in zip(parts[1::2], parts[2::2], strict=True):
        role = "user" if speaker == "Human" else "assistant"
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + text.strip()
        else:
            messages.append({"role": role, "content": text.strip()})
    if not messages or messages[0]["role"] != "user":
        raise BadRow("not_a_dialogue", "dialogue does not start with a Human turn")
    return messages


def parse_hh_rlhf(row: dict, preference: Preference) -> Pair | None:
    """HH-RLHF: both strings hold the whole dialogue and differ only in the last Assistant reply.

    The preference is already fixed by the subset (harmless-base / helpful-base), so every valid row is used.
    """
    chosen, rejected = _field(row, "chosen", str), _field(row, "rejected", str)
    shared = os.path.commonprefix([chosen, rejected])
    cut = shared.rfind(HH_ASSISTANT)  # the last Assistant turn both dialogues share is the one that differs
    if cut < 0:
        raise BadRow("no_shared_turn", "chosen and rejected share no Assistant turn")
    prompt_text = chosen[:cut]
    chosen_reply = chosen[cut + len(HH_ASSISTANT) :].strip()
    rejected_reply = rejected[cut + len(HH_ASSISTANT) :].strip()
    if HH_HUMAN in chosen_reply or HH_HUMAN in rejected_reply:
        raise BadRow("differ_before_last_turn", "chosen and rejected differ before their last Assistant turn")
    if not chosen_reply or not rejected_reply:
        raise BadRow("empty_text", "empty final Assistant reply")
    if chosen_reply == rejected_reply:
        raise BadRow("identical_replies", "chosen and rejected replies are identical")
    prompt = hh_turns(prompt_text)
    if prompt[-1]["role"] != "user":
        raise BadRow("not_a_dialogue", "the reply does not follow a Human turn")
    return Pair(prompt, chosen_reply, rejected_reply)


def parse_beavertails(row: dict, preference: Preference) -> Pair | None:
    """PKU-SafeRLHF v0: one prompt, two responses with safety labels and two preference ids.

    helpful keeps every pair (chosen = better_response_id); harmless keeps only pairs with exactly one
    safe response (chosen = the safe one) and returns None for the rest.
    """
    prompt = _field(row, "prompt", str).strip()
    responses = [_field(row, "response_0", str).strip(), _field(row, "response_1", str).strip()]
    safe = [_field(row, "is_response_0_safe", bool), _field(row, "is_response_1_safe", bool)]
    better = _field(row, "better_response_id", int)
    if better not in (0, 1):
        raise BadRow("invalid_value", f"better_response_id should be 0 or 1, got {better}")
    if not prompt or not all(responses):
        raise BadRow("empty_text", "empty prompt or response")
    if responses[0] == responses[1]:
        raise BadRow("identical_replies", "response_0 and response_1 are identical")
    if preference is Preference.helpful:
        chosen = better
    elif safe[0] != safe[1]:
        chosen = 0 if safe[0] else 1
    else:
        return None  # both safe or both unsafe: no harmlessness signal
    return Pair([{"role": "user", "content": prompt}], responses[chosen], responses[1 - chosen])


PARSERS: Registry[Callable[[dict, Preference], Pair | None]] = Registry(
    "dataset.name",
    {
        "hh_rlhf": parse_hh_rlhf,
        "beavertails": parse_beavertails,
    },
)
