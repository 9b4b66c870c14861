"""Where a run's resources come from (a local path, a tiny local build, the hub at a pinned revision), and which
base weights a run uses: pure functions of the config, usable at plan time without torch."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alignbench.config.schema import HubSource, Source

# Keys of the model section that say where the weights are or how the study uses them, not what they are.
NOT_WEIGHTS = ("name", "path", "kind", "chat_template", "lora_targets")


def hub_revision(source: Source) -> str | None:
    """The revision to ask the hub for: none when the weights come from a local folder or a tiny build."""
    return None if source.path or getattr(source, "tiny", None) is not None else source.revision


def describe(source: HubSource) -> str:
    """hub_id@revision, as records and messages name a hub resource."""
    return f"{source.hub_id}@{source.revision or 'main'}"


def short(location: str) -> str:
    """A model's name for tables: the folder name of a local path, the hub id as it is."""
    path = Path(location)
    return path.name if path.is_absolute() else location


def package_path(path: str) -> Path:
    """`pkg://alignbench/...` names a file inside the installed package; anything else is a plain path."""
    if path.startswith("pkg://"):
        package, _, inside = path.removeprefix("pkg://").partition("/")
        return Path(str(resources.files(package))) / inside
    return Path(path).expanduser()


def base_identity(model: Any, quant: Any) -> dict[str, Any]:
    """Which base weights a run computes with: hub id, revision, dtype, attention kernel and tiny spec (never where
    they are loaded from), and the quantization. Keys the shared caches, the baseline cache and the resident base;
    the run key covers it as part of the whole model section. `model` and `quant` are the config's sections, typed
    (a run's) or plain (a record's): both give the same identity."""
    weights = {k: v for k, v in _plain(model).items() if k not in NOT_WEIGHTS}
    return {"model": weights, "quant": _plain(quant)}


def _plain(section: Any) -> dict[str, Any]:
    return asdict(section) if is_dataclass(section) and not isinstance(section, type) else dict(section)


def hub_repos(resolved: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """The hub repos a run reads (repo id, revision, type): its model unless local or tiny, its dataset unless local
    or bundled."""
    model, data = resolved["model"], resolved["dataset"]
    repos = []
    if model.get("hub_id") and not model.get("path") and model.get("tiny") is None:
        repos.append((model["hub_id"], model.get("revision"), "model"))
    if data.get("hub_id") and not data.get("path") and not data.get("sample"):
        repos.append((data["hub_id"], data.get("revision"), "dataset"))
    return repos
