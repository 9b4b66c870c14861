"""Where things are on disk: a run folder's paths and the cache's subtrees, and the one key policy every computed
cache entry follows (what it depends on, the cache version and the library versions)."""

from __future__ import annotations

from alignbench.runs import dirs
from alignbench.runs.dirs import CacheDir, RunDir
from alignbench.training.caches import RunCaches


def test_a_run_folder_names_its_paths(tmp_path):
    run = RunDir(tmp_path)
    assert run.record == tmp_path / "record.json" and run.adapter == tmp_path / "adapter"
    assert run.step(50) == tmp_path / "steps" / "50" and run.staging_step(50).parent == run.steps
    assert RunDir(run.step(50)).generations == tmp_path / "steps" / "50" / "generations.jsonl"  # same names inside
    for path in (run.generations, run.eval / "mmlu.jsonl", run.step(5) / "eval" / "bbh.jsonl", run.adapter / "x.jsonl"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    assert [p.relative_to(tmp_path).as_posix() for p in run.item_files()] == [
        "eval/mmlu.jsonl",
        "generations.jsonl",
        "steps/5/eval/bbh.jsonl",
    ]


def test_the_cache_expands_home_and_is_a_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = CacheDir("~/cache")
    assert cache.root == tmp_path / "cache" and CacheDir(cache).root == cache.root
    assert {p.parent for p in (cache.ref_logps, cache.tokenized, cache.baselines, cache.tiny, cache.upstream)} == {
        cache.root
    }


def test_every_computed_cache_is_keyed_by_the_cache_version_and_the_library_versions(monkeypatch):
    caches = RunCaches(None, {"m": 1}, "fp32", "tok", "ex", 64)
    keys = lambda: (  # noqa: E731
        caches.ref_key(),
        caches.tokenized_key("dpo", "train"),
        CacheDir.key("tiny", 1, ["llama", 64]),
        CacheDir.key("baselines", 2, {"benchmark": "mmlu"}),
    )
    before = keys()
    assert keys() == before and len(set(before)) == 4  # stable, and apart by kind
    upgraded = {**dirs.library_versions(), "trl": "9.9.9"}
    monkeypatch.setattr(dirs, "library_versions", lambda: upgraded)
    assert all(a != b for a, b in zip(keys(), before, strict=True))
    monkeypatch.undo()
    monkeypatch.setattr(dirs, "CACHE_VERSION", dirs.CACHE_VERSION + 1)
    assert all(a != b for a, b in zip(keys(), before, strict=True))
    monkeypatch.undo()
    assert keys() == before
