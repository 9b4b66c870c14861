"""Where a report's numbers come from: code versions, libraries, the config keys that differ, dates."""

from __future__ import annotations

from collections import Counter
from typing import Any


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out.update(flatten(value, f"{name}.") if isinstance(value, dict) else {name: value})
    return out


def _short(text: str, width: int = 80) -> str:
    """Long values (chat templates) cut to a recognisable prefix: the page says which key differs, not the file."""
    return text if len(text) <= width else f"{text[: width - 3]}..."


def provenance(records: list[dict], shown: int = 6) -> dict:
    """git shas, library versions and config keys with how many runs have each value (`differing_config`: the keys
    whose value differs between runs, `common_config`: the others, with the one value all runs share); first and last
    dates."""
    versions: dict[str, Counter] = {}
    for record in records:
        for library, version in (record.get("versions") or {}).items():
            versions.setdefault(library, Counter())[str(version)] += 1
    configs = [flatten(record.get("config") or {}) for record in records]
    keys = sorted(set().union(*configs)) if configs else []
    differing, common = {}, {}
    for key in keys:
        values = Counter(_short(repr(config.get(key))) for config in configs)
        if len(values) > 1:
            differing[key] = dict(values.most_common(shown))
        else:
            common[key] = next(iter(values))
    started = sorted(r["started_at"] for r in records if r.get("started_at"))
    finished = sorted(r["finished_at"] for r in records if r.get("finished_at"))
    return {
        "runs": len(records),
        "sweeps": dict(Counter(str(r.get("sweep")) for r in records)),
        "git_sha": dict(versions.pop("git_sha", Counter())),
        "versions": {library: dict(counts) for library, counts in sorted(versions.items())},
        "differing_config": differing,
        "common_config": common,
        "first_started": started[0] if started else None,
        "last_finished": finished[-1] if finished else None,
    }


def _counted(values: dict) -> str:
    """{"a": 3, "b": 1} -> "a (3 runs) · b (1 run)"."""
    return " · ".join(f"{value} ({n} run{'s' * (n != 1)})" for value, n in values.items())


def differing_rows(prov: dict) -> list[tuple[str, str]]:
    """(key, its values with how many runs have each) of everything that differs between the runs: the sweep, the
    code version, a library version, a config key."""
    rows = [("sweep", prov["sweeps"])] if len(prov["sweeps"]) > 1 else []
    rows += [("git_sha", prov["git_sha"])] if len(prov["git_sha"]) > 1 else []
    rows += [(f"version of {lib}", counts) for lib, counts in prov["versions"].items() if len(counts) > 1]
    rows += list(prov["differing_config"].items())
    return [(key, _counted(values)) for key, values in rows]


def common_items(prov: dict) -> list[tuple[str, str]]:
    """(key, value) of everything all runs share: sweep, code and library versions, config keys."""
    items = [("sweep", next(iter(prov["sweeps"])))] if len(prov["sweeps"]) == 1 else []
    items += [("git_sha", next(iter(prov["git_sha"])))] if len(prov["git_sha"]) == 1 else []
    items += [(lib, next(iter(counts))) for lib, counts in prov["versions"].items() if len(counts) == 1]
    items += list(prov.get("common_config", {}).items())
    return items
