"""The user's data through the real command line: a path selects it on the tiny model's CPU budget, every pair of a
multi-turn HH-RLHF file is accounted for by reason (record.json and the summary), and each kind of broken file fails
with exit code 1 and one line naming the file (and line)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from helpers import REPO, alignbench

from alignbench.config.schema import DatasetConfig
from alignbench.data.load import load_preference_data

pytestmark = pytest.mark.slow

MULTITURN = REPO / "tests" / "data" / "files" / "hh_multiturn"
QUICK = ["logger=none", "method.max_steps=2", "eval.benchmarks=[]", "eval.generations=0"]


def test_a_users_multiturn_hh_file_is_selected_and_every_pair_accounted_for(tmp_path):
    run_dir = tmp_path / "run"
    # The CPU budget of the default tiny model turns dataset.sample on: the user's path still wins, no 2nd override.
    done = alignbench(
        "dataset=hh_rlhf", f"dataset.path={MULTITURN}", "dataset.train_samples=1000", f"hydra.run.dir={run_dir}", *QUICK
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((run_dir / "record.json").read_text())
    m = record["metrics"]
    assert record["data_source"] == str(MULTITURN) and record["config"]["dataset"]["sample"] is False
    assert {k: v for k, v in m.items() if k.startswith("data/train")} == {
        "data/train_rows": 60,
        "data/train_bad_rows": 2,
        "data/train_bad/empty_text": 1,
        "data/train_bad/wrong_type": 1,
        "data/train_filtered_rows": 0,
        "data/train_parsed_pairs": 58,
        "data/train_selected_pairs": 58,
        "data/train_prompt_truncated": 42,  # TRL alone would have dropped these 42 (tests/data/test_fit.py)
        "data/train_reply_truncated": 0,
        "data/train_dropped_no_reply": 0,
        "data/train_pairs": 58,  # the length of the trainer's prepared dataset
    }
    assert m["data/test_prompt_truncated"] == 16 and m["data/test_dropped_no_reply"] == 0
    assert m["eval/pref/pairs"] == m["data/test_pairs"] == 23 and m["train/steps"] == 2
    assert record["data_issues"]["train_bad"]["wrong_type"]["rows"] == ["train.jsonl.gz:31"]
    assert (
        "  data         train: 60 rows, 2 bad, 0 filtered by the preference rule -> 58 pairs selected -> 58 trained "
        "(prompt cut 42, reply tail cut 0, dropped with no reply token 0)"
    ) in done.stdout.splitlines()
    assert (
        "  left out     train_bad: empty_text 1 (train.jsonl.gz:11), wrong_type 1 (train.jsonl.gz:31)"
    ) in done.stdout.splitlines()


def saferlhf(prompt: str, better_response_id) -> dict:
    return {
        "prompt": prompt,
        "response_0": "Here is how.",
        "response_1": "I can't help with that.",
        "is_response_0_safe": False,
        "is_response_1_safe": True,
        "better_response_id": better_response_id,
        "safer_response_id": 1,
    }


def broken_data(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (the overrides that point the run at it, the exact line the CLI must print)."""
    empty = tmp / "empty" / "train.jsonl"
    empty.parent.mkdir()
    empty.write_text("\n\n")
    bad_json = tmp / "bad_json.jsonl"
    good = json.dumps({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"})
    bad_json.write_text(good + "\n" + '{"chosen": "x" "rejected": "y"}\n')
    latin1 = tmp / "latin1.jsonl.gz"
    latin1.write_bytes(
        gzip.compress((good + "\n" + good + "\n").encode() + '{"chosen": "caf\xe9"}\n'.encode("latin-1"))
    )
    csv = tmp / "train.csv"
    csv.write_text("chosen,rejected\na,b\n")
    string_ids = tmp / "string_ids.jsonl"  # a SafeRLHF export with stringly-typed ids: bad rows, never coerced
    rows = [saferlhf(f"q{i}?", 0) for i in range(5)] + [saferlhf(f"r{i}?", "1") for i in range(5)]
    string_ids.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # At a max_length the chat template alone fills, no pair keeps a reply token: said so, before training.
    selected = load_preference_data(DatasetConfig(name="hh_rlhf", hub_id="-", path=str(MULTITURN)), 16, 0).train
    first = ", ".join(p.origin for p in selected[:3])
    hh = ["dataset=hh_rlhf", "dataset.path="]
    return {
        "empty": (
            hh[:1] + [f"{hh[1]}{empty.parent}"],
            f"{empty}: the file is empty; expected one JSON object per line",
        ),
        "invalid_json": (
            hh[:1] + [f"{hh[1]}{bad_json}"],
            f"{bad_json}:2: invalid JSON (Expecting ',' delimiter at column 16); each line must be one JSON object",
        ),
        "not_utf8": (
            hh[:1] + [f"{hh[1]}{latin1}"],
            f"{latin1}:3: byte 0xe9 at column 16 is not UTF-8; save the file as UTF-8",
        ),
        "unsupported": (
            hh[:1] + [f"{hh[1]}{csv}"],
            f"{csv}: unsupported file type; alignbench reads .jsonl, .json, .jsonl.gz, .json.gz, .parquet files",
        ),
        "too_many_bad_rows": (
            [f"dataset.path={string_ids}"],
            f"{string_ids} [train]: 5 of 10 rows (50%) do not fit the beavertails raw schema, above "
            "dataset.max_bad_fraction=0.05: wrong_type 5 (string_ids.jsonl:6, string_ids.jsonl:7, string_ids.jsonl:8, "
            "...: field 'better_response_id' should be int, got str '1'); fix or remove those rows, or raise "
            "dataset.max_bad_fraction",
        ),
        "every_pair_dropped": (
            hh[:1] + [f"{hh[1]}{MULTITURN}", "method.max_length=32"],
            f"{MULTITURN} [train]: none of the 16 training pairs keeps a reply token within method.max_length=32: "
            f"no_reply_tokens 16 ({first}, ...: the chat template leaves no reply token within 32 tokens); "
            "raise method.max_length",
        ),
    }


@pytest.mark.parametrize(
    "case", ["empty", "invalid_json", "not_utf8", "unsupported", "too_many_bad_rows", "every_pair_dropped"]
)
def test_broken_data_fails_with_one_line_naming_the_file(tmp_path, case):
    overrides, message = broken_data(tmp_path)[case]
    done = alignbench(*overrides, f"hydra.run.dir={tmp_path / 'run'}", *QUICK)
    assert done.returncode == 1
    # The data error's one line, exactly and once (whatever prefix the CLI puts before it: the run's summary says
    # `error        DataError: ...`), and no traceback.
    console = (done.stdout + done.stderr).splitlines()
    assert sum(line.endswith(message) for line in console) == 1, (done.stdout + done.stderr)[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "run" / "adapter").exists()  # failed before training
