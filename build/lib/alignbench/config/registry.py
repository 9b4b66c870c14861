"""A registry per axis (methods, adapters, benchmarks, judges, trackers, dataset parsers): a name -> code map whose
config key is named in the error, with the valid names, when a name has no code."""

from __future__ import annotations

from typing import Generic, TypeVar

from alignbench.config.rules import ConfigError

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    def __init__(self, key: str, entries: dict[str, T]):
        super().__init__(entries)
        self.key = key  # the config key whose value is looked up, e.g. method.trainer

    def pick(self, name: str) -> T:
        if name not in self:
            raise ConfigError(f"{self.key}={name!r} has no implementation; valid: {', '.join(sorted(self))}")
        return self[name]
