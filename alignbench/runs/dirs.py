"""Where things are on disk: every path of a run folder (RunDir) and the shared cache's subtrees with their one key
policy (CacheDir). Pure Python: planning a sweep reads run folders without importing torch."""

from __future__ import annotations

import os
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from alignbench.runs.keys import digest

RECORD = "record.json"
ADAPTER = "adapter"
CHECKPOINTS = "checkpoints"
GENERATIONS = "generations.jsonl"
EVAL = "eval"
STEPS = "steps"


class RunDir:
    """The paths of one run folder. A step's folder (steps/<step>) holds its evaluation outputs under the same names
    as the run folder holds the final adapter's (generations, eval/)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def record(self) -> Path:
        return self.path / RECORD  # the run's state (runs.record), rewritten atomically

    @property
    def lock(self) -> Path:
        return self.path / ".lock"  # flock'ed by the process running it (runs.state)

    @property
    def log(self) -> Path:
        return self.path / "alignbench.log"  # every log line of the run (Hydra's job logging, conf/hydra)

    @property
    def adapter(self) -> Path:
        return self.path / ADAPTER  # published whole with its manifest (runs.adapter)

    @property
    def staging_adapter(self) -> Path:
        return self.path / ".adapter.partial"  # the adapter being saved, before runs.adapter.commit

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS  # resumable training state (training.checkpoints), gone once trained

    @property
    def steps(self) -> Path:
        return self.path / STEPS  # the adapters saved while training (eval.at_steps), one folder per step

    def step(self, step: int) -> Path:
        return self.steps / str(step)

    def staging_step(self, step: int) -> Path:
        return self.steps / f".{step}.partial"

    @property
    def eval(self) -> Path:
        return self.path / EVAL  # per-item benchmark outputs, <benchmark>.jsonl

    @property
    def generations(self) -> Path:
        return self.path / GENERATIONS  # a few greedy replies of the trained model and of its base

    def item_files(self) -> list[Path]:
        """The per-item evaluation files (every prompt, output and score a number was computed from): the run's own
        and each step adapter's."""
        patterns = (GENERATIONS, f"{EVAL}/*.jsonl", f"{STEPS}/*/{GENERATIONS}", f"{STEPS}/*/{EVAL}/*.jsonl")
        return sorted({path for pattern in patterns for path in self.path.glob(pattern) if path.is_file()})


# Bump to recompute every cache entry (a change to what all of them store); a cache's own format has its own version.
CACHE_VERSION = 1
# The code that computes cached work: an upgrade of any of them recomputes it instead of reusing a stale result
# (lm-eval scores the baselines, TRL and datasets tokenize and score the references, tokenizers builds tiny models).
CACHE_LIBRARIES = ("torch", "transformers", "tokenizers", "peft", "trl", "datasets", "bitsandbytes", "lm-eval")


class CacheDir:
    """The shared cache (paths.cache_dir) and its subtrees. Computed entries (reference log-probs, tokenized data, the
    base's benchmark scores, tiny models) are found under `key`: what they depend on plus the cache version and the
    libraries' versions. Upstream files are addressed by their pin (and checked by sha256), stage runs by their run
    key (and verified as any run folder): neither is computed from code a library version could change."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser()

    def __fspath__(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"CacheDir({str(self.root)!r})"

    @property
    def ref_logps(self) -> Path:
        return self.root / "ref_logps"  # <key>.json: DPO's reference log-probs (training.caches)

    @property
    def tokenized(self) -> Path:
        return self.root / "tokenized"  # <key>/: a tokenized training set, published whole (training.caches)

    @property
    def baselines(self) -> Path:
        return self.root / "baselines"  # <key>/baseline.json: a base's score on one benchmark (evaluation.baseline)

    @property
    def tiny(self) -> Path:
        return self.root / "tiny"  # <name>-<key>/: a tiny random-init model (modeling.tiny)

    @property
    def upstream(self) -> Path:
        return self.root / "upstream"  # <repo>/<commit>/<file>: other projects' files at a pinned commit

    @property
    def stages(self) -> Path:
        return self.root / "stages"  # <stage run key>/: a chained run's earlier stage, a run folder (runs.chain)

    @staticmethod
    def key(kind: str, version: int, what: Any) -> str:
        """The one key of a computed entry: what it depends on (`what`, JSON), its kind and format `version`, the
        cache version and the versions of the libraries that compute it."""
        return digest(
            {"kind": kind, "version": [CACHE_VERSION, version], "libraries": library_versions(), "what": what}
        )


@cache
def library_versions() -> dict[str, str | None]:
    """CACHE_LIBRARIES' installed versions (None: not installed), read once per process."""
    found: dict[str, str | None] = {}
    for name in CACHE_LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found
