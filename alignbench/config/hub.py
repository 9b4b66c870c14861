"""Can a hub model or dataset be had here? One cache look-up, at most one short probe, and one way to say what to do."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from threading import Lock

HUB_PROBE_TIMEOUT_S = 10
UNAVAILABLE = " is not available: "  # how not_available() words it, so a list of problems can be told apart


class Unavailable(RuntimeError):
    """Something a run needs cannot be had here (hub files, data, a judge's key); the message says how to provide it."""

    reason = "unavailable"  # runs.failures: how a record and the sweep summary file it


def hub_missing(repo_id: str, revision: str | None, repo_type: str) -> str | None:
    """Why a hub repo cannot be used, or None. One cache look-up and at most one short probe: no retry loops."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(repo_id, revision=revision, repo_type=repo_type, local_files_only=True)
        return None
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    try:
        HfApi().repo_info(repo_id, revision=revision, repo_type=repo_type, timeout=HUB_PROBE_TIMEOUT_S)
        return None
    except Exception as err:  # network, auth (gated repos) or a wrong id: all mean "cannot be had"
        return f"it is not in the local Hugging Face cache and the hub did not answer ({type(err).__name__}: {err})"


def resolved_revision(repo_id: str, revision: str | None, repo_type: str) -> str | None:
    """The commit a revision (a branch, a tag or a commit) named in the local hub cache, or None: what a record
    says was read, rather than `main`."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision, repo_type=repo_type, local_files_only=True)).name
    except Exception:  # not in the cache as a snapshot (e.g. a datasets-only copy): unknown, not guessed
        return None


def not_available(
    what: str, repo_id: str, revision: str | None, why: str, instead: str, repo_type: str, files: str = ""
) -> str:
    """The one message for a hub resource that cannot be had: what, why, the local alternative, the download."""
    kind = " --repo-type dataset" if repo_type == "dataset" else ""
    pinned = f" --revision {revision}" if revision else ""
    return (
        f"{what} ({repo_id}@{revision or 'main'}){UNAVAILABLE}{why}. {instead}, or download it where the "
        f"hub is reachable (`hf download {repo_id}{files and ' ' + files}{kind}{pinned}`) into the cache that "
        "HF_HOME names here"
    )


class ConcurrentProbe:
    """hub_missing for a whole plan: each repo is asked once, in the background from the moment it is named, so a
    planner's probes overlap its composing instead of adding up."""

    def __init__(self, workers: int = 8):
        self._pool = ThreadPoolExecutor(workers)
        self._asked: dict[tuple, Future] = {}
        self._lock = Lock()

    def prefetch(self, repo_id: str, revision: str | None, repo_type: str) -> Future:
        with self._lock:
            key = (repo_id, revision, repo_type)
            if key not in self._asked:
                self._asked[key] = self._pool.submit(hub_missing, *key)
            return self._asked[key]

    def __call__(self, repo_id: str, revision: str | None, repo_type: str) -> str | None:
        return self.prefetch(repo_id, revision, repo_type).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
