"""conf/config.yaml's resolvers: what a model option brings along (evaluation, judges, CPU budget), read from its
model file, and the groups `--help` lists."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

from omegaconf import DictConfig, OmegaConf

MODELS = Path(__file__).resolve().parents[1] / "conf" / "model"


class Route(NamedTuple):
    eval: str
    judge: str
    preset: str


# A tiny stand-in (its model file says `tiny:`) runs in minutes on CPU: the bundled miniatures with offline judges,
# under the CPU budget (preset/cpu.yaml). A hub model gets the study's five benchmarks with GPT-4 judges, at the
# paper's settings: its preset `none` is no file, which the `optional` entry in conf/config.yaml skips.
TINY = Route(eval="sample", judge="offline", preset="cpu")
HUB = Route(eval="paper", judge="openai", preset="none")


def route(model: str) -> Route:
    return TINY if is_tiny(model) else HUB


def is_tiny(model: str, models: Path = MODELS) -> bool:
    """Whether conf/model/<model>.yaml, or the model file it extends, sets `tiny`. A name with no file there (a
    typo) routes like a hub model, so that Hydra's own error names the missing option."""
    path = models / f"{model}.yaml"
    return path.is_file() and _sets_tiny(path, path.stat().st_mtime_ns)


@functools.cache  # a sweep composes every job: each file is read once (again only if it changed)
def _sets_tiny(path: Path, mtime_ns: int) -> bool:
    spec = OmegaConf.load(path)
    assert isinstance(spec, DictConfig), path
    if "tiny" in spec:
        return spec.tiny is not None
    parents = [d for d in spec.get("defaults", []) if isinstance(d, str) and d != "_self_" and not d.startswith("/")]
    return any(is_tiny(parent, path.parent) for parent in parents)


def options(*groups: str) -> str:
    """`group: option, option` per group, as `--help` lists them (Hydra's listing would add the schemas and presets
    that are chosen for the user)."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    return "\n".join(f"{group}: {', '.join(sorted(loader.get_group_options(group)))}" for group in groups)


def register_resolvers() -> None:
    """`${by_model:eval,${model}}` in conf/config.yaml's defaults; `${group_options:model,...}` in its help."""
    if not OmegaConf.has_resolver("by_model"):
        OmegaConf.register_new_resolver("by_model", lambda field, model: getattr(route(model), field))
        OmegaConf.register_new_resolver("group_options", options)
