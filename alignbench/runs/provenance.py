"""What a record says about where a run came from (library versions, git sha), and what it must never say (secrets)."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from alignbench.config.secrets import secret_name

LIBRARIES = [
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "bitsandbytes",
    "tokenizers",
    "wandb",
    "lm-eval",
    "mergekit",  # the merge operator of method.merge.space=weights
    "hydra-core",
    "omegaconf",
]


# A secret never reaches a config (config/guard.py refuses it before Hydra starts); these keep a record clean even so.
def secret_override(override: str) -> bool:
    """A command-line override that sets a credential, e.g. +judge.harm.api_key=sk-...: never recorded."""
    return secret_name(override.lstrip("+~").split("=", 1)[0])


def without_secrets(value: Any) -> Any:
    """Drop any key that looks like a credential, however it got into the config."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not secret_name(str(k))}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    found["git_sha"] = _git_sha()
    return found


def _git_sha() -> str:
    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():  # an installed wheel: no checkout to ask (and no "not a git repository" noise)
        return "unknown"
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
