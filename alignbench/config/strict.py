"""The typed schema, held for keys that Hydra adds with `+`.

Hydra composes alignbench's groups onto the dataclasses in config/schema.py and sets the config to struct mode, so
`method.lerning_rate=5` fails. But `+key=value` is applied with `OmegaConf.update(..., force_add=True)`, which adds
the key whatever the struct flag says, and the node keeps its dataclass type: `+method.lerning_rate=5` would be
accepted, ignored by the code, and change the run key. This walks the composed config and refuses every key its
node's dataclass does not declare. A node typed as a Dict (model.lora_targets, a merge input's choices) takes any key:
that is how a group allows extra keys.
"""

from __future__ import annotations

import dataclasses
import difflib

from omegaconf import DictConfig, ListConfig, OmegaConf

# Top-level keys that are not alignbench's: Hydra's own section.
NOT_OURS = ("hydra",)
# Keys refused with their own reason rather than the list of valid keys.
_REASONS = {
    "_target_": (
        "alignbench does not instantiate classes from its groups: each group's code is picked by name from a "
        "registry (method.trainer, adapter.kind, judge.harm.kind, logger.name)"
    ),
    "trust_remote_code": (
        "alignbench loads only architectures that transformers ships and never runs code from a model repository "
        "(a pinned revision would not make that code reviewed)"
    ),
}


def unknown_key_problems(cfg: DictConfig) -> list[str]:
    """One line per key the schema does not have, with the keys it does have."""
    problems: list[str] = []
    _walk(cfg, "", problems)
    return problems


def _walk(node, path: str, problems: list[str]) -> None:
    if node._is_none() or node._is_missing() or node._is_interpolation():
        return
    if isinstance(node, ListConfig):
        for index in range(len(node)):
            _walk(node._get_node(index), path, problems)
        return
    if not isinstance(node, DictConfig):
        return
    schema = OmegaConf.get_type(node)
    fields = [f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema) else None
    for key in node.keys():
        name = str(key)  # an alignbench config's keys are strings; OmegaConf's type also allows bytes, ints, enums
        sub = f"{path}.{name}" if path else name
        if not path and name in NOT_OURS:
            continue
        if name in _REASONS:
            problems.append(f"{sub} is not a key: {_REASONS[name]}")
        elif fields is not None and name not in fields:
            problems.append(_unknown(sub, name, path, fields))
        else:
            _walk(node._get_node(key), sub, problems)


def _unknown(sub: str, key: str, path: str, fields: list[str]) -> str:
    close = difflib.get_close_matches(key, fields, n=1)
    hint = f" (did you mean {path + '.' if path else ''}{close[0]}?)" if close else ""
    where = f"a key of {path}" if path else "a top-level key"
    return f"{sub} is not {where}{hint}; valid keys: {', '.join(sorted(fields))}"
