"""Checkpoint folders on disk (no training): the manifest, what is set aside and why, and a checkpoint of another
configuration refused naming what changed."""

from __future__ import annotations

import json
import os

import pytest

from alignbench.config.rules import ConfigError
from alignbench.runs.keys import keyed_config, resolve, run_key
from alignbench.training.checkpoints import (
    CHECKPOINTS,
    KEEP,
    SET_ASIDE,
    STAGING,
    changed_fields,
    discard,
    pick,
    problem,
    publish,
    write_manifest,
)

KEYED = {"method": {"learning_rate": 0.001, "beta": 0.1}, "seed": 0}


def staged(run_dir, step, run_key="k", keyed=KEYED, manifest=True):
    """A checkpoint as the trainer stages it: a few files, then (unless torn) its manifest."""
    folder = run_dir / CHECKPOINTS / STAGING / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(os.urandom(256))
    (folder / "optimizer.pt").write_bytes(os.urandom(512))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if manifest:
        write_manifest(folder, step, run_key, keyed)
    return folder


def complete(run_dir, step, **kwargs):
    return publish(staged(run_dir, step, **kwargs), step)


def test_the_manifest_lists_every_file_with_size_and_checksum(tmp_path):
    folder = complete(tmp_path, 5)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["step"] == 5 and manifest["run_key"] == "k" and manifest["keyed"] == KEYED
    assert set(manifest["files"]) == {"adapter_model.safetensors", "optimizer.pt", "trainer_state.json"}
    assert manifest["files"]["optimizer.pt"]["size"] == 512
    assert problem(folder) is None
    assert not (tmp_path / CHECKPOINTS / STAGING / "checkpoint-5").exists()


def test_the_newest_complete_checkpoint_is_picked_and_only_the_newest_kept(tmp_path):
    for step in (2, 4, 6):
        complete(tmp_path, step)
    assert sorted(p.name for p in (tmp_path / CHECKPOINTS).glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-6"]
    assert KEEP == 2
    picked = pick(tmp_path, "k", KEYED)
    assert (picked.path.name, picked.step, picked.set_aside) == ("checkpoint-6", 6, [])


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda f: (f / "optimizer.pt").write_bytes(os.urandom(512)), "optimizer.pt has sha256 "),  # both named
        (lambda f: (f / "optimizer.pt").write_bytes(b"x"), "optimizer.pt has 1 bytes where its manifest says 512"),
        (lambda f: (f / "optimizer.pt").unlink(), "optimizer.pt is missing"),
        (lambda f: (f / "manifest.json").write_text("{"), "unreadable manifest"),
        (lambda f: (f / "manifest.json").unlink(), "no manifest"),
    ],
)
def test_a_corrupt_checkpoint_is_set_aside_and_the_older_complete_one_used(tmp_path, capsys, damage, why):
    complete(tmp_path, 4)
    damage(complete(tmp_path, 8))
    picked = pick(tmp_path, "k", KEYED)
    assert (picked.path.name, picked.step) == ("checkpoint-4", 4)
    assert len(picked.set_aside) == 1 and picked.set_aside[0].startswith("checkpoint-8: corrupt")
    assert why in picked.set_aside[0]
    assert why in capsys.readouterr().out  # said, not only recorded
    assert not (tmp_path / CHECKPOINTS / "checkpoint-8").exists()
    (kept,) = (tmp_path / CHECKPOINTS / SET_ASIDE).iterdir()  # kept for inspection, out of the way
    assert kept.name.startswith("checkpoint-8.corrupt.")


def test_a_torn_save_is_set_aside_and_never_loaded(tmp_path):
    complete(tmp_path, 4)
    staged(tmp_path, 8, manifest=False)  # a kill between the trainer's files and the manifest
    picked = pick(tmp_path, "k", KEYED)
    assert picked.path.name == "checkpoint-4"
    assert picked.set_aside[0].startswith("checkpoint-8: torn")
    assert [p.name.split(".")[:2] for p in (tmp_path / CHECKPOINTS / SET_ASIDE).iterdir()] == [["checkpoint-8", "torn"]]
    assert not list((tmp_path / CHECKPOINTS / STAGING).iterdir())


def test_nothing_to_resume_when_every_checkpoint_is_damaged(tmp_path):
    (complete(tmp_path, 4) / "optimizer.pt").unlink()
    picked = pick(tmp_path, "k", KEYED)
    assert picked.path is None and len(picked.set_aside) == 1
    assert pick(tmp_path / "empty", "k", KEYED).path is None


def test_a_checkpoint_of_another_configuration_is_refused_naming_the_changed_fields(tmp_path, compose):
    before = resolve(compose(["method.learning_rate=0.001"]))
    after = resolve(compose(["method.learning_rate=0.002", "seed=3"]))
    complete(tmp_path, 4, run_key=run_key(before), keyed=keyed_config(before))
    with pytest.raises(ConfigError) as refused:
        pick(tmp_path, run_key(after), keyed_config(after))
    message = str(refused.value)
    assert "method.learning_rate: 0.001 -> 0.002" in message and "seed: 0 -> 3" in message
    assert run_key(before) in message and run_key(after) in message and "\n" not in message
    assert (tmp_path / CHECKPOINTS / "checkpoint-4").is_dir()  # refused, not deleted


def test_changing_only_the_checkpoint_cadence_keeps_the_run_key(compose):
    assert run_key(resolve(compose(["train.save_steps=3"]))) == run_key(resolve(compose(["train.save_steps=0"])))


def test_changed_fields_are_dotted_and_capped():
    old = {"a": {"b": 1, "c": [1, 2]}, **{f"k{i}": i for i in range(1, 11)}}
    new = {"a": {"b": 2, "c": [1, 2], "d": 0}, **{f"k{i}": -i for i in range(1, 11)}}
    diffs = changed_fields(old, new, limit=3)
    assert diffs[:2] == ["a.b: 1 -> 2", "a.d: <absent> -> 0"] and diffs[-1] == "... 9 more"


def test_a_completed_run_discards_its_checkpoints_but_keeps_what_was_set_aside(tmp_path):
    complete(tmp_path, 4)
    staged(tmp_path, 8, manifest=False)
    discard(tmp_path)
    assert not (tmp_path / CHECKPOINTS).exists()
    complete(tmp_path, 4)
    staged(tmp_path, 8, manifest=False)
    pick(tmp_path, "k", KEYED)  # sets the torn one aside
    discard(tmp_path)
    assert [p.name for p in (tmp_path / CHECKPOINTS).iterdir()] == [SET_ASIDE]
