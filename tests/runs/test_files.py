"""Folders published whole with a manifest (runs.files): what verification names when a file is missing, changed or
added, a publish that replaces the previous folder, a failed save that leaves nothing, a damaged folder set aside."""

from __future__ import annotations

import json

import pytest

from alignbench.runs import files


def published(root, name="entry", about=None):
    staging = root / f".{name}.partial"
    with files.staged(staging):
        staging.mkdir()
        (staging / "weights.bin").write_bytes(bytes(range(256)))
        (staging / "sub").mkdir()
        (staging / "sub" / "config.json").write_text("{}")
        files.write_manifest(staging, about or {"owner": "k"})
    return files.publish(staging, root / name)


def test_a_published_folder_lists_every_file_and_verifies(tmp_path):
    folder = published(tmp_path)
    manifest = files.read_manifest(folder)
    assert manifest["owner"] == "k" and set(manifest["files"]) == {"weights.bin", "sub/config.json"}
    assert manifest["files"]["weights.bin"] == {"size": 256, "sha256": files.sha256_of(folder / "weights.bin")}
    assert files.verify(folder) is None and files.verify(folder, exact=True) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]  # no staging or replaced folder left


def test_verification_names_the_file_and_both_hashes(tmp_path):
    folder = published(tmp_path)
    weights = folder / "weights.bin"
    expected = files.sha256_of(weights)
    data = bytearray(weights.read_bytes())
    data[7] ^= 0xFF  # same size, one byte flipped
    weights.write_bytes(bytes(data))
    assert files.verify(folder) == (
        f"{weights} has sha256 {files.sha256_of(weights)[:16]}… where its manifest says {expected[:16]}…"
    )
    weights.write_bytes(b"x")
    assert files.verify(folder) == f"{weights} has 1 bytes where its manifest says 256"
    weights.unlink()
    assert files.verify(folder) == f"{weights} is missing"


def test_a_file_the_manifest_does_not_list_counts_only_when_exact(tmp_path):
    folder = published(tmp_path)
    (folder / "later.arrow").write_text("a cache file written beside")
    assert files.verify(folder) is None
    assert files.verify(folder, exact=True) == f"{folder / 'later.arrow'} is not in its manifest"


def test_a_missing_unreadable_or_empty_manifest_is_named(tmp_path):
    folder = published(tmp_path)
    (folder / files.MANIFEST).write_text("{")
    assert files.verify(folder) == f"{folder} has an unreadable manifest (JSONDecodeError)"
    (folder / files.MANIFEST).write_text(json.dumps({"files": {}}))
    assert files.verify(folder) == f"{folder / files.MANIFEST} lists no files"
    (folder / files.MANIFEST).unlink()
    assert files.verify(folder).startswith(f"{folder} has no manifest")


def test_a_publish_replaces_the_previous_folder_whole(tmp_path):
    published(tmp_path, about={"owner": "first"})
    (tmp_path / "entry" / "stale.txt").write_text("only in the first")
    folder = published(tmp_path, about={"owner": "second"})
    assert files.read_manifest(folder)["owner"] == "second" and not (folder / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]


def test_a_failed_save_leaves_no_staging_and_reads_a_rust_io_error_as_an_oserror(tmp_path):
    staging = tmp_path / ".entry.partial"
    with pytest.raises(OSError) as raised, files.staged(staging):
        staging.mkdir()
        (staging / "half.bin").write_bytes(b"12")
        raise RuntimeError("Error while serializing: IoError(No space left on device (os error 28))")
    assert raised.value.errno == 28 and raised.value.filename == str(staging)
    assert not staging.exists()


def test_a_damaged_folder_is_set_aside_for_inspection(tmp_path):
    folder = published(tmp_path)
    aside = files.set_aside(folder, "corrupt", tmp_path / "set_aside")
    assert not folder.exists() and aside.parent == tmp_path / "set_aside"
    assert aside.name.split(".")[:2] == ["entry", "corrupt"] and (aside / "weights.bin").is_file()
