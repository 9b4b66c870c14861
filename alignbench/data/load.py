"""Load a preference dataset (hub, local files or the bundled miniature), parse it, check it, sample it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from alignbench.config.hub import resolved_revision
from alignbench.config.schema import DatasetConfig, Preference
from alignbench.data.parsers import PARSERS, BadRow, Pair

SAMPLES_DIR = Path(__file__).parent / "samples"
RAW_SUFFIXES = {".jsonl": "json", ".json": "json", ".gz": "json", ".parquet": "parquet"}
SHOWN_BAD_ROWS = 5


class DataError(ValueError):
    """The data cannot be used as configured; the message names the source, split and rows."""

    reason = "data"  # runs.failures: how a record and the sweep summary file it


@dataclass
class PreferenceData:
    train: list[Pair]
    test: list[Pair]
    source: str
    stats: dict[str, int] = field(default_factory=dict)


def load_preference_data(cfg: DatasetConfig, train_samples: int, seed: int) -> PreferenceData:
    """Raw rows -> parsed pairs -> seeded sample of `train_samples` train and `cfg.eval_samples` test pairs.

    preference=mixed draws `mixture_harmless` of both samples from the harmless pairs and the rest from the
    helpful pairs of the same rows, then shuffles them together.
    """
    source, raw = _load_raw(cfg)
    stats: dict[str, int] = {}
    if cfg.preference is Preference.mixed:
        shares = {Preference.harmless: cfg.mixture_harmless, Preference.helpful: 1 - cfg.mixture_harmless}
    else:
        shares = {cfg.preference: 1.0}
    rng = random.Random(seed)
    train, test = [], []
    for preference, share in shares.items():
        pairs = {
            # preference=mixed parses every row once per preference: each keeps its own counts
            split: _parse_split(
                rows,
                cfg,
                preference,
                f"{source} [{split}]",
                stats,
                f"{preference.value}_{split}" if len(shares) > 1 else split,
            )
            for split, rows in raw.items()
        }
        part_train = pairs["train"]
        rng.shuffle(part_train)
        if "test" in pairs:
            part_test = pairs["test"]
            rng.shuffle(part_test)
        else:  # one file of rows: hold out a seeded slice, disjoint from the training pairs
            part_test, part_train = part_train[: cfg.eval_samples], part_train[cfg.eval_samples :]
        if not part_train:
            raise DataError(f"{source}: no usable training pairs for preference {preference.value!r}")
        train += part_train[: round(train_samples * share)]
        test += part_test[: round(cfg.eval_samples * share)]
        if len(shares) > 1:
            stats[f"{preference.value}_train_pairs"] = min(len(part_train), round(train_samples * share))
    if len(shares) > 1:
        rng.shuffle(train)
        rng.shuffle(test)
    data = PreferenceData(train, test, source, stats)
    stats.update(train_pairs=len(data.train), test_pairs=len(data.test))
    return data


def _parse_split(
    rows, cfg: DatasetConfig, preference: Preference, where: str, stats: dict[str, int], split: str
) -> list[Pair]:
    parse = PARSERS.pick(cfg.name)
    pairs, bad, filtered = [], [], 0
    for index, row in enumerate(rows, start=1):
        try:
            pair = parse(row, preference)
        except BadRow as err:
            bad.append(f"row {index}: {err}")
            continue
        if pair is None:
            filtered += 1
        else:
            pairs.append(pair)
    total = len(pairs) + len(bad) + filtered
    if total and len(bad) / total > cfg.max_bad_fraction:
        shown = "\n  ".join(bad[:SHOWN_BAD_ROWS])
        raise DataError(
            f"{where}: {len(bad)} of {total} rows do not fit the {cfg.name} raw schema "
            f"(more than dataset.max_bad_fraction={cfg.max_bad_fraction}):\n  {shown}"
        )
    stats[f"{split}_rows"] = total
    stats[f"{split}_bad_rows"] = len(bad)
    stats[f"{split}_filtered_rows"] = filtered
    return pairs


def _load_raw(cfg: DatasetConfig) -> tuple[str, dict]:
    """Return a description of the source and {split: rows} in the raw hub schema."""
    if cfg.path or cfg.sample:
        root = Path(cfg.path).expanduser() if cfg.path else SAMPLES_DIR / cfg.name
        if cfg.data_dir and (root / cfg.data_dir).is_dir():
            root = root / cfg.data_dir
        return str(root), _load_local(root)
    import datasets

    loaded = datasets.load_dataset(cfg.hub_id, data_dir=cfg.data_dir, revision=cfg.revision)
    commit = resolved_revision(cfg.hub_id, cfg.revision, "dataset")  # the commit read, not just "main"
    read = f"{cfg.revision or 'main'}" + (f" = {commit}" if commit and commit != cfg.revision else "")
    source = f"{cfg.hub_id}@{read}" + (f"/{cfg.data_dir}" if cfg.data_dir else "")
    return source, {split: loaded[split] for split in ("train", "test") if split in loaded}


def _load_local(root: Path) -> dict:
    if root.is_file():
        files = {"train": [root]}
    elif root.is_dir():
        files = {
            split: sorted(p for p in root.iterdir() if p.name.startswith(split) and p.suffix in RAW_SUFFIXES)
            for split in ("train", "test")
        }
        files = {split: found for split, found in files.items() if found}
    else:
        raise DataError(f"dataset.path {root} does not exist")
    if "train" not in files:
        raise DataError(f"{root}: no train*.jsonl / .json / .jsonl.gz / .parquet file found")
    kinds = {RAW_SUFFIXES[p.suffix] for found in files.values() for p in found}
    if len(kinds) > 1:
        raise DataError(f"{root}: mixes JSON and parquet files; keep one format per folder")
    import datasets

    try:
        loaded = datasets.load_dataset(kinds.pop(), data_files={s: [str(p) for p in f] for s, f in files.items()})
    except Exception as err:  # pyarrow's parse errors name neither the file nor the line
        raise DataError(f"{root}: could not read {sorted(str(p) for f in files.values() for p in f)}: {err}") from err
    return {split: loaded[split] for split in files}
