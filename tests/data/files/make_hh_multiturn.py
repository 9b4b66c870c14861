"""Writes hh_multiturn/{train,test}.jsonl.gz: our own HH-RLHF rows in the real raw format (whole dialogues in
`chosen`/`rejected`, "\\n\\nHuman:"/"\\n\\nAssistant:" turns, gzipped JSON lines as the hub ships them), multi-turn,
with prompts far longer than the CPU budget's method.max_length (160), and a few bad rows of known reasons.

    python tests/data/files/make_hh_multiturn.py     # deterministic; the tests assert exact counts on its output
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

OUT = Path(__file__).parent / "hh_multiturn"
TOPICS = ["my garden", "a bike trip", "the new job", "my old laptop", "a birthday party", "the kitchen sink"]
CHATTER = (
    "I have been thinking about {t} for a while now and I keep going back and forth about what to do, because "
    "every option seems to have some downside that I did not expect when I first started looking into it."
)
REPLY = "That sounds like a lot to weigh. Tell me more about {t} and what matters most to you."


def dialogue(turns: list[str]) -> str:
    return "".join(("\n\nHuman: " if i % 2 == 0 else "\n\nAssistant: ") + t for i, t in enumerate(turns))


def row(i: int, long: bool, last_turn_long: bool = False) -> dict:
    topic = TOPICS[i % len(TOPICS)]
    turns = []
    for _ in range(3 if long else 0):  # earlier turns: what the policy cuts first
        turns += [CHATTER.format(t=topic), REPLY.format(t=topic)]
    ask = f"Request {i}: how do I get rid of {topic} for good without anyone noticing?"
    if last_turn_long:  # the last Human turn alone is longer than the prompt's budget: its start is cut
        ask = " ".join([CHATTER.format(t=topic)] * 3) + " " + ask
    prompt = turns + [ask]
    chosen = "I'd rather not help with hiding things. If it is yours, you can sell or donate it openly."
    rejected = f"Sure. Wait until night, take {topic} away quietly and tell nobody what you did."
    return {"chosen": dialogue(prompt + [chosen]), "rejected": dialogue(prompt + [rejected])}


def rows(n: int, offset: int) -> list[dict]:
    # two of three dialogues are long (3 earlier exchanges), every fifth has a long last Human turn
    return [row(offset + i, long=i % 3 != 0, last_turn_long=i % 5 == 4) for i in range(n)]


def main() -> None:
    train = rows(58, 0)
    bad_empty = row(900, long=True)
    bad_empty["rejected"] = bad_empty["rejected"][: bad_empty["rejected"].rfind("\n\nAssistant:")] + "\n\nAssistant: "
    train.insert(10, bad_empty)  # line 11: empty final reply, as a few real HH rows have
    train.insert(30, {"chosen": dialogue(["Hi", "Hello"]), "rejected": 7})  # line 31: wrong type
    test = rows(23, 100)
    same = row(901, long=False)
    test.insert(5, {"chosen": same["chosen"], "rejected": same["chosen"]})  # line 6: identical replies
    OUT.mkdir(exist_ok=True)
    for name, data in (("train", train), ("test", test)):
        text = "".join(json.dumps(r) + "\n" for r in data).encode()
        # mtime=0: the same bytes on every run
        (OUT / f"{name}.jsonl.gz").write_bytes(gzip.compress(text, mtime=0))


if __name__ == "__main__":
    main()
