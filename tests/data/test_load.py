"""Loading raw files: bundled miniatures, local paths, bad-row accounting, seeded held-out split."""

from __future__ import annotations

import json

import pytest
from test_parsers import saferlhf

from alignbench.config.schema import DatasetConfig, Preference, Selection
from alignbench.data.load import DataError, load_preference_data, selection_seed


def beavertails(**kw) -> DatasetConfig:
    return DatasetConfig(name="beavertails", hub_id="unused/offline", **kw)


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "name, data_dir", [("beavertails", None), ("hh_rlhf", "harmless-base"), ("hh_rlhf", "helpful-base")]
)
@pytest.mark.parametrize("preference", list(Preference))
def test_bundled_samples_parse_in_the_raw_hub_schema(name, data_dir, preference):
    cfg = DatasetConfig(name=name, hub_id="unused/offline", data_dir=data_dir, sample=True, preference=preference)
    data = load_preference_data(cfg, train_samples=10_000, seed=0)
    assert len(data.train) >= 200 and len(data.test) >= 50
    held_out_prompts = {p.prompt[-1]["content"] for p in data.test}
    assert not held_out_prompts & {p.prompt[-1]["content"] for p in data.train}  # unseen prompts


def test_harmless_beavertails_sample_filters_and_counts(tmp_path):
    data = load_preference_data(beavertails(sample=True, preference=Preference.harmless), 10_000, 0)
    s = data.stats
    assert s["train_filtered_rows"] > 0  # both-safe and both-unsafe pairs carry no harmlessness signal
    assert s["train_rows"] == s["train_parsed_pairs"] + s["train_bad_rows"] + s["train_filtered_rows"]


def test_a_bad_row_is_counted_and_the_rest_is_used(tmp_path):
    rows = [saferlhf(False, True)] * 30 + [saferlhf(False, True, better_response_id=7)]
    path = write_rows(tmp_path / "train.jsonl", rows)
    data = load_preference_data(beavertails(path=str(path), eval_samples=5), 100, 0)
    assert data.stats["train_bad_rows"] == 1
    assert len(data.train) + len(data.test) == 30


def test_too_many_bad_rows_fail_naming_the_file_and_the_rows(tmp_path):
    rows = [saferlhf(False, True)] * 5 + [{"prompt": "only a prompt"}] * 5
    path = write_rows(tmp_path / "train.jsonl", rows)
    with pytest.raises(DataError) as err:
        load_preference_data(beavertails(path=str(path)), 100, 0)
    assert str(err.value) == (
        f"{path} [train]: 5 of 10 rows (50%) do not fit the beavertails raw schema, above dataset.max_bad_fraction="
        "0.05: missing_field 5 (train.jsonl:6, train.jsonl:7, train.jsonl:8, ...: missing field 'response_0'); fix or "
        "remove those rows, or raise dataset.max_bad_fraction"
    )


def test_a_single_file_gets_a_seeded_disjoint_held_out_slice(tmp_path):
    rows = [saferlhf(False, True, prompt=f"question {i}?") for i in range(50)]
    path = write_rows(tmp_path / "mine.jsonl", rows)
    first = load_preference_data(beavertails(path=str(path), eval_samples=10), 100, seed=3)
    again = load_preference_data(beavertails(path=str(path), eval_samples=10), 100, seed=3)
    other = load_preference_data(beavertails(path=str(path), eval_samples=10), 100, seed=4)
    assert len(first.test) == 10 and len(first.train) == 40
    assert not {p.prompt[0]["content"] for p in first.test} & {p.prompt[0]["content"] for p in first.train}
    assert first.test == again.test and first.test != other.test


def test_train_samples_caps_the_training_pairs():
    data = load_preference_data(beavertails(sample=True, preference=Preference.helpful), 64, 0)
    assert len(data.train) == 64 and data.stats["train_selected_pairs"] == 64


def test_a_missing_path_or_unreadable_file_says_which(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_preference_data(beavertails(path=str(tmp_path / "nope")), 10, 0)
    (tmp_path / "train.jsonl").write_text('{"prompt": "x"\nnot json\n')
    with pytest.raises(DataError, match="train.jsonl"):
        load_preference_data(beavertails(path=str(tmp_path)), 10, 0)


def test_mixed_preferences_keep_each_preferences_row_counts():
    single = {
        p: load_preference_data(beavertails(sample=True, preference=p), 10_000, 0).stats
        for p in Preference
        if p is not Preference.mixed
    }
    mixed = load_preference_data(beavertails(sample=True, preference=Preference.mixed), 10_000, 0).stats
    for preference, stats in single.items():
        for count in ("train_rows", "train_filtered_rows", "test_rows", "test_filtered_rows"):
            assert mixed[f"{preference.value}_{count}"] == stats[count], (preference, count)
    # harmless keeps only pairs with exactly one safe reply, helpful keeps every pair: the counts differ
    assert mixed["harmless_train_filtered_rows"] != mixed["helpful_train_filtered_rows"]


@pytest.mark.parametrize("selection", list(Selection))
def test_per_seed_selection_gives_each_seed_its_own_pairs_and_fixed_the_same(selection):
    cfg = beavertails(sample=True, selection=selection, eval_samples=20)

    def pairs(seed: int) -> list:
        train = load_preference_data(cfg, 50, selection_seed(cfg, seed)).train
        return sorted(json.dumps([p.prompt, p.chosen, p.rejected]) for p in train)

    first, second = pairs(0), pairs(1)
    assert len(first) == len(second) == 50 and pairs(1) == second  # a seed's pairs are the same every time
    if selection is Selection.fixed:
        assert first == second
    else:
        assert len(set(first) & set(second)) < 40  # two samples of 50 from a pool of a few hundred


@pytest.mark.parametrize("mixture, harmless", [(0.5, 0.5), (0.25, 0.25), ("natural", None)])
def test_a_mixture_draws_its_share_of_harmless_pairs_or_the_pools_own_proportion(mixture, harmless):
    cfg = beavertails(sample=True, preference=Preference.mixed, mixture_harmless=mixture)
    data = load_preference_data(cfg, 100, 0)
    if harmless is None:  # natural: as many harmless pairs as the harmless pool's share of both pools
        pools = {
            p: len(load_preference_data(beavertails(sample=True, preference=p), 10_000, 0).train)
            for p in (Preference.harmless, Preference.helpful)
        }
        harmless = pools[Preference.harmless] / sum(pools.values())
        assert 0 < harmless < 0.5  # BeaverTails' harmless pool is the smaller: both-safe and both-unsafe pairs drop
    assert data.stats["harmless_train_selected_pairs"] == round(100 * harmless)
    assert len(data.train) == 100
