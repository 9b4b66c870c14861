"""record.json: everything a report needs about one run, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

LIBRARIES = [
    "torch", "transformers", "peft", "trl", "datasets", "accelerate", "bitsandbytes", "tokenizers",
    "wandb", "lm-eval", "hydra-core", "omegaconf",
]
# Sections that say where things are or how they are logged, not what is trained.
NOT_IN_RUN_KEY = ("paths", "logger", "sweep", "dry_run", "cpu_threads", "stages")
# How a trained adapter is evaluated: keyed apart (eval_key), so adding a benchmark re-evaluates, never retrains.
EVALUATION = ("eval", "judge")
# Credentials by name (hf_token, api_key, wandb_secret, ...), not settings that merely mention them (max_new_tokens,
# api_key_env: the NAME of the variable that holds a key).
SECRET_KEY = re.compile(r"(^|_)(api_?key|token|secret|password)$", re.IGNORECASE)


def resolve(config: DictConfig) -> dict[str, Any]:
    """The plain, fully resolved config that run_key hashes and record.json keeps."""
    return OmegaConf.to_container(config, resolve=True, enum_to_str=True)


def run_key(config: dict[str, Any]) -> str:
    """What is trained: hash of the whole resolved config (never a delta from defaults) minus locations, logging
    and evaluation."""
    keyed = {k: v for k, v in config.items() if k not in NOT_IN_RUN_KEY + EVALUATION}
    keyed["model"] = {k: v for k, v in keyed["model"].items() if k != "path"}  # where the weights are, not what
    keyed["train"] = {k: v for k, v in keyed["train"].items() if k != "shared_caches"}  # speed, not the result
    return digest(keyed)


def eval_key(config: dict[str, Any]) -> str:
    """How it is evaluated: the eval and judge sections."""
    return digest({k: config[k] for k in EVALUATION})


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def secret_override(override: str) -> bool:
    """A command-line override that sets a credential, e.g. +judge.harm.api_key=sk-...: never recorded."""
    key = override.lstrip("+~").split("=", 1)[0].rsplit(".", 1)[-1]
    return bool(SECRET_KEY.search(key))


def without_secrets(value: Any) -> Any:
    """Drop any key that looks like a credential, however it got into the config."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not SECRET_KEY.search(str(k))}
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
    repo = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp makes it private; records are meant to be read by reports and teammates
    os.replace(tmp, path)
