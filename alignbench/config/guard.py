"""Refusals that must come before Hydra writes anything: secrets on the command line or in the config, and keys the
typed schema does not have.

Hydra writes `.hydra/config.yaml`, `overrides.yaml` and `hydra.yaml` as a job starts (a dry run and every job of a
sweep included), so the checks run earlier: on the raw command line before Hydra parses it (`check_command_line`,
from `__main__`), and on the composed config before any job starts (`ComposeChecks`, a Hydra callback in
conf/config.yaml; the grid sweeper applies `config_problems` to each job it plans).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import typing
from collections.abc import Iterable, Iterator
from typing import Any

from hydra.core.override_parser.types import Override, OverrideType
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from alignbench.config.secrets import env_copy_problem, key_problem, secret_name, value_problems
from alignbench.config.strict import unknown_key_problems

_PREFIX = {OverrideType.ADD: "+", OverrideType.FORCE_ADD: "++", OverrideType.DEL: "~"}
_ENV_COPY = "hydra.job.env_copy"


def refuse(problems: Iterable[str]) -> None:
    """Print each problem on one line and exit 1 (nothing has been written yet); return when there is none."""
    unique = list(dict.fromkeys(problems))
    if not unique:
        return None
    for problem in unique:
        print(f"alignbench: {problem}", file=sys.stderr)
    raise SystemExit(1)


def check_command_line(argv: list[str]) -> None:
    """Refuse secrets in the overrides of `python -m alignbench ARGS`, read as Hydra reads them."""
    from hydra._internal.utils import get_args_parser

    try:
        overrides = get_args_parser().parse_args(argv).overrides
    except SystemExit:  # not Hydra's command line: Hydra says why when it parses it
        return
    refuse(override_problems(overrides))


def override_problems(overrides: list[str]) -> list[str]:
    """Secrets in command-line overrides, each value of a sweep (`a=x,y`) included."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    problems: list[str] = []
    for line in overrides:
        try:
            (override,) = parser.parse_overrides([line])
        except Exception:  # Hydra reports a malformed override itself, after this
            continue
        key = override.key_or_group
        if secret_name(key):
            problems.append(key_problem(_PREFIX.get(override.type, "") + key))
            continue
        for value in _values(override):
            problems += value_problems(key, value)
            if key == _ENV_COPY:
                problems += [env_copy_problem(v) for v in _as_list(value) if secret_name(str(v))]
    return problems


def _values(override: Override) -> list[Any]:
    if override.is_delete() and override.value() is None:
        return []
    value = override.value()
    return list(getattr(value, "list", [value])) if override.is_sweep_override() else [value]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def config_problems(cfg: DictConfig) -> list[str]:
    """Secrets anywhere in a composed config (as written, and resolved for its values), then unknown keys, then
    numbers outside the bounds their schema field declares."""
    problems = [*secret_problems(cfg), *unknown_key_problems(cfg)]
    return list(dict.fromkeys(problems or range_problems(cfg)))


def range_problems(node: DictConfig, path: str = "") -> list[str]:
    """Each number of the config outside its schema field's bounds (config.schema: at_least, above, share), as
    resolved (an adapter's r comes from its method's preset)."""
    problems = []
    schema: type | None = OmegaConf.get_type(node)  # as `type`: mypy takes type[Any] for unhashable (functools.cache)
    for name, bounds in _checked_fields(schema):
        if name not in node or OmegaConf.is_missing(node, name):
            continue
        key = f"{path}.{name}" if path else name
        try:
            value = node[name]
        except Exception:  # a broken interpolation fails with its own message
            continue
        if isinstance(value, DictConfig):
            problems += range_problems(value, key)
        elif bounds and isinstance(value, int | float) and not isinstance(value, bool):
            problems += [f"{key}={value}: {why}" for why in _out_of_bounds(value, bounds)]
    return problems


@functools.cache
def _checked_fields(kind: type | None) -> tuple[tuple[str, dict], ...]:
    """(name, bounds) of a schema's fields that carry bounds or may hold a section (bounds empty); a config is
    walked through these only, read once per schema class."""
    if kind is None or not dataclasses.is_dataclass(kind):
        return ()
    hints = typing.get_type_hints(kind)
    return tuple(
        (spec.name, dict(spec.metadata))
        for spec in dataclasses.fields(kind)
        if spec.metadata or not _scalar(hints[spec.name])
    )


def _scalar(hint: Any) -> bool:
    """Whether a field's type is str, int, float or bool (a StrEnum included), optional or not: never a section."""
    kinds = typing.get_args(hint) if typing.get_origin(hint) is typing.Union else (hint,)
    return all(isinstance(kind, type) and issubclass(kind, str | int | float | bool | None) for kind in kinds)


def _out_of_bounds(value: float, bounds: dict[str, float]) -> list[str]:
    found = []
    if "min" in bounds and value < bounds["min"]:
        found.append(f"must be at least {bounds['min']}")
    if "above" in bounds and not value > bounds["above"]:
        found.append(f"must be above {bounds['above']}")
    if "max" in bounds and value > bounds["max"]:
        found.append(f"must be at most {bounds['max']}")
    return found


def secret_problems(cfg: DictConfig) -> list[str]:
    problems = list(_secrets_in(OmegaConf.to_container(cfg, resolve=False), ""))
    for key in cfg:
        if key == "hydra":  # Hydra's own section resolves only inside a job (hydra:runtime...)
            continue
        try:
            resolved = OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
        except Exception:  # a broken interpolation fails the run with its own message
            continue
        problems += value_problems(str(key), resolved)  # e.g. a URL with credentials coming from ${oc.env:URL}
    hydra = cfg.get("hydra")
    if hydra is not None:
        copied = OmegaConf.select(hydra, "job.env_copy", default=None)
        if isinstance(copied, ListConfig):
            problems += [env_copy_problem(v) for v in copied if secret_name(str(v))]
    return problems


def _secrets_in(value: Any, path: str) -> Iterator[str]:
    """Secret-named keys at any depth (a key with dots, like a sweeper's `judge.harm.api_key: a,b`, included) and
    secret values, as written (an interpolation is caught before it is resolved)."""
    if path in ("hydra.overrides", "hydra.runtime"):  # the command line (checked before Hydra) and Hydra's own
        return
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if secret_name(str(key)):
                yield key_problem(sub)
            else:
                yield from _secrets_in(item, sub)
    elif isinstance(value, list):
        for item in value:
            yield from _secrets_in(item, path)
    else:
        yield from value_problems(path, value)


class ComposeChecks(Callback):
    """Hydra calls this after composing and before the run's or sweep's first file is written."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse(config_problems(config))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse(config_problems(config))
