"""Raw hub rows -> pairs, on the tricky shapes the real data has."""

from __future__ import annotations

import pytest

from alignbench.config.schema import Preference
from alignbench.data.parsers import BadRow, parse_beavertails, parse_hh_rlhf

H, A = "\n\nHuman: ", "\n\nAssistant: "


def hh(*turns: str) -> str:
    return "".join((H if i % 2 == 0 else A) + t for i, t in enumerate(turns))


def test_hh_multi_turn_keeps_the_dialogue_as_messages():
    row = {
        "chosen": hh("Hi", "Hello, how can I help?", "How do I pick a lock?", "I can't help with that."),
        "rejected": hh("Hi", "Hello, how can I help?", "How do I pick a lock?", "Use a tension wrench."),
    }
    pair = parse_hh_rlhf(row, Preference.harmless)
    assert [m["role"] for m in pair.prompt] == ["user", "assistant", "user"]
    assert pair.prompt[1]["content"] == "Hello, how can I help?"
    assert (pair.chosen, pair.rejected) == ("I can't help with that.", "Use a tension wrench.")


def test_hh_replies_sharing_leading_words_are_split_at_the_turn_not_the_common_prefix():
    row = {"chosen": hh("Q?", "I think not."), "rejected": hh("Q?", "I think so, here is how.")}
    pair = parse_hh_rlhf(row, Preference.helpful)
    assert pair.chosen == "I think not." and pair.rejected == "I think so, here is how."
    assert pair.prompt == [{"role": "user", "content": "Q?"}]


def test_hh_reply_containing_the_assistant_marker_of_an_earlier_turn_is_split_at_the_shared_turn():
    row = {"chosen": hh("A?", "x", "B?", "yes"), "rejected": hh("A?", "x", "B?", "no")}
    assert len(parse_hh_rlhf(row, Preference.helpful).prompt) == 3


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"chosen": hh("Q?", "same"), "rejected": hh("Q?", "same")}, "identical"),
        ({"chosen": hh("Q?", "a", "R?", "b"), "rejected": hh("Z?", "a", "R?", "c")}, "share no Assistant"),
        ({"chosen": hh("Q?", "a", "R?", "b"), "rejected": hh("Q?", "c")}, "differ before"),
        ({"chosen": hh("Q?", "")}, "missing field 'rejected'"),
        ({"chosen": "no markers", "rejected": "at all"}, "share no Assistant"),
        ({"chosen": hh("Q?", "a"), "rejected": 5}, "should be str"),
        ({"chosen": "preamble" + hh("Q?", "a"), "rejected": "preamble" + hh("Q?", "b")}, "start with a Human"),
    ],
)
def test_hh_bad_rows_say_what_is_wrong(row, reason):
    with pytest.raises(BadRow, match=reason):
        parse_hh_rlhf(row, Preference.harmless)


def saferlhf(safe0: bool, safe1: bool, better: int = 0, **extra):
    row = {
        "prompt": "How do I make a fake ID?",
        "response_0": "Here is how.",
        "response_1": "I can't help with that.",
        "is_response_0_safe": safe0,
        "is_response_1_safe": safe1,
        "better_response_id": better,
        "safer_response_id": 1,
    }
    return row | extra


def test_beavertails_harmless_takes_the_one_safe_response():
    pair = parse_beavertails(saferlhf(False, True), Preference.harmless)
    assert pair.chosen == "I can't help with that." and pair.rejected == "Here is how."
    assert pair.prompt == [{"role": "user", "content": "How do I make a fake ID?"}]


@pytest.mark.parametrize("safe0, safe1", [(True, True), (False, False)])
def test_beavertails_harmless_filters_pairs_without_exactly_one_safe_response(safe0, safe1):
    assert parse_beavertails(saferlhf(safe0, safe1), Preference.harmless) is None


@pytest.mark.parametrize("safe0, safe1", [(True, True), (False, False), (False, True)])
def test_beavertails_helpful_keeps_every_pair_and_follows_better_response_id(safe0, safe1):
    assert parse_beavertails(saferlhf(safe0, safe1, better=0), Preference.helpful).chosen == "Here is how."
    assert parse_beavertails(saferlhf(safe0, safe1, better=1), Preference.helpful).chosen == "I can't help with that."


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"is_response_0_safe": 1}, "should be bool"),
        ({"better_response_id": 2}, "0 or 1"),
        ({"better_response_id": True}, "should be int"),
        ({"response_1": "Here is how."}, "identical"),
        ({"prompt": None}, "missing field 'prompt'"),
    ],
)
def test_beavertails_bad_rows_say_what_is_wrong(extra, reason):
    with pytest.raises(BadRow, match=reason):
        parse_beavertails(saferlhf(False, True, **extra), Preference.helpful)


@pytest.mark.parametrize(
    "extra, detail",
    [
        ({"is_response_0_safe": "true"}, "field 'is_response_0_safe' should be bool, got str 'true'"),
        ({"is_response_1_safe": "0"}, "field 'is_response_1_safe' should be bool, got str '0'"),
        ({"is_response_1_safe": 0}, "field 'is_response_1_safe' should be bool, got int 0"),
        ({"better_response_id": "1"}, "field 'better_response_id' should be int, got str '1'"),
        ({"better_response_id": 1.0}, "field 'better_response_id' should be int, got float 1.0"),
        ({"prompt": 12}, "field 'prompt' should be str, got int 12"),
    ],
)
def test_beavertails_strings_or_numbers_of_the_wrong_type_are_bad_rows_never_coerced(extra, detail):
    with pytest.raises(BadRow) as err:
        parse_beavertails(saferlhf(False, True, **extra), Preference.harmless)
    assert (err.value.reason, str(err.value)) == ("wrong_type", detail)


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"chosen": hh("Q?", "same"), "rejected": hh("Q?", "same")}, "identical_replies"),
        ({"chosen": hh("Q?", "a", "R?", "b"), "rejected": hh("Q?", "c")}, "differ_before_last_turn"),
        ({"chosen": "no markers", "rejected": "at all"}, "no_shared_turn"),
        ({"chosen": hh("Q?", "a"), "rejected": hh("Q?", "")}, "empty_text"),
        ({"chosen": hh("Q?", "a")}, "missing_field"),
        ({"chosen": hh("Q?", "a"), "rejected": ["b"]}, "wrong_type"),
        ({"chosen": "x" + hh("Q?", "a"), "rejected": "x" + hh("Q?", "b")}, "not_a_dialogue"),
        (["a", "list"], "not_an_object"),
    ],
)
def test_hh_bad_rows_are_counted_by_reason(row, reason):
    with pytest.raises(BadRow) as err:
        parse_hh_rlhf(row, Preference.harmless)
    assert err.value.reason == reason
