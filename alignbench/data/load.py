"""Load a preference dataset (hub, local files or the bundled miniature), parse it, check it, sample it."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from alignbench.config.hub import resolved_revision
from alignbench.config.schema import NATURAL, DatasetConfig, Preference, Selection
from alignbench.data.parsers import PARSERS, BadRow, Pair

SAMPLES_DIR = Path(__file__).parent / "samples"
# What a local file may be, longest suffix first: JSON lines (or one JSON array of objects), gzipped or not, parquet.
READERS = {".jsonl": "json", ".json": "json", ".jsonl.gz": "json", ".json.gz": "json", ".parquet": "parquet"}
SUPPORTED = ", ".join(READERS)
SHOWN_ROWS = 3  # example rows per reason in messages and in record.json
SHOWN_REASONS = 3  # reasons named in a failure message


class DataError(ValueError):
    """The data cannot be used as configured; the one-line message names the file (and line or row) and the fix."""

    reason = "data"  # runs.failures: how a record and the sweep summary file it


class Issues:
    """Rows or pairs left out, by reason: counts, the first few origins and the first detail of each reason."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.rows: dict[str, list[str]] = {}
        self.detail: dict[str, str] = {}

    def add(self, reason: str, origin: str, detail: str = "", n: int = 1) -> None:
        self.counts[reason] += n
        self.rows.setdefault(reason, [])
        if len(self.rows[reason]) < SHOWN_ROWS:
            self.rows[reason].append(origin)
        self.detail.setdefault(reason, detail)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """'missing_field 5 (train.jsonl:6, train.jsonl:7, ...: missing field 'response_0'), ...' on one line."""
        parts = []
        for reason, n in self.counts.most_common(SHOWN_REASONS):
            rows = ", ".join(self.rows[reason]) + (", ..." if n > len(self.rows[reason]) else "")
            detail = f": {self.detail[reason]}" if self.detail[reason] else ""
            parts.append(f"{reason} {n} ({rows}{detail})")
        if len(self.counts) > SHOWN_REASONS:
            parts.append(f"and {len(self.counts) - SHOWN_REASONS} more reasons")
        return ", ".join(parts)

    def to_json(self) -> dict[str, dict]:
        return {
            reason: {"count": n, "rows": self.rows[reason], "detail": self.detail[reason]}
            for reason, n in self.counts.most_common()
        }


@dataclass
class PreferenceData:
    train: list[Pair]
    test: list[Pair]
    source: str
    stats: dict[str, int] = field(default_factory=dict)  # the data/... metrics
    issues: dict[str, dict] = field(default_factory=dict)  # {train_bad: {reason: {count, rows, detail}}, ...}


def selection_seed(cfg: DatasetConfig, seed: int) -> int | str:
    """What seeds the sample of pairs: dataset.selection_seed, and with selection=per_seed the run's seed too."""
    return cfg.selection_seed if cfg.selection is Selection.fixed else f"{cfg.selection_seed}:{seed}"


def load_preference_data(cfg: DatasetConfig, train_samples: int, seed: int | str) -> PreferenceData:
    """Raw rows -> parsed pairs -> seeded sample of `train_samples` train and `cfg.eval_samples` test pairs.

    preference=mixed draws `mixture_harmless` of both samples from the harmless pairs and the rest from the
    helpful pairs of the same rows (`natural`: in the proportion of the two pools), then shuffles them together. The
    pairs are not yet fitted to a max_length (data.fit does that once the tokenizer is known).
    """
    source, raw = _load_raw(cfg)
    data = PreferenceData([], [], source)
    mixed = cfg.preference is Preference.mixed
    preferences = [Preference.harmless, Preference.helpful] if mixed else [cfg.preference]
    rng = random.Random(seed)
    pools = {}
    for preference in preferences:
        pairs = {
            # preference=mixed parses every row once per preference: each keeps its own counts
            split: _parse_split(
                rows, cfg, preference, f"{where} [{split}]", data, f"{preference.value}_{split}" if mixed else split
            )
            for split, (where, rows) in raw.items()
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
        pools[preference] = part_train, part_test
    for preference, share in _shares(cfg, {p: len(train) for p, (train, _) in pools.items()}).items():
        part_train, part_test = pools[preference]
        data.train += part_train[: round(train_samples * share)]
        data.test += part_test[: round(cfg.eval_samples * share)]
        if mixed:
            data.stats[f"{preference.value}_train_selected_pairs"] = min(len(part_train), round(train_samples * share))
    if mixed:
        rng.shuffle(data.train)
        rng.shuffle(data.test)
    data.stats.update(train_selected_pairs=len(data.train), test_selected_pairs=len(data.test))
    return data


def _shares(cfg: DatasetConfig, pool_sizes: dict[Preference, int]) -> dict[Preference, float]:
    """The share of the sample each preference gets: all of it, or preference=mixed's mixture_harmless split."""
    if cfg.preference is not Preference.mixed:
        return {cfg.preference: 1.0}
    harmless = cfg.mixture_harmless
    if harmless == NATURAL:
        harmless = pool_sizes[Preference.harmless] / sum(pool_sizes.values())
    return {Preference.harmless: harmless, Preference.helpful: 1 - harmless}


def _parse_split(
    rows: list[tuple[str, object]],
    cfg: DatasetConfig,
    preference: Preference,
    where: str,
    data: PreferenceData,
    split: str,
) -> list[Pair]:
    """Parse one split's (origin, raw row) list; count rows, bad rows by reason and rows the preference rule filters,
    and fail when bad rows are above dataset.max_bad_fraction."""
    parse = PARSERS.pick(cfg.name)
    pairs, bad, filtered = [], Issues(), 0
    for origin, row in rows:
        try:
            pair = parse(row, preference)
        except BadRow as err:
            bad.add(err.reason, origin, str(err))
            continue
        if pair is None:
            filtered += 1
        else:
            pairs.append(replace(pair, origin=origin))
    total = len(pairs) + bad.total + filtered
    if total and bad.total / total > cfg.max_bad_fraction:
        raise DataError(
            f"{where}: {bad.total} of {total} rows ({bad.total / total:.0%}) do not fit the {cfg.name} raw schema, "
            f"above dataset.max_bad_fraction={cfg.max_bad_fraction}: {bad.describe()}; fix or remove those rows, "
            "or raise dataset.max_bad_fraction"
        )
    data.stats[f"{split}_rows"] = total
    data.stats[f"{split}_bad_rows"] = bad.total
    data.stats.update({f"{split}_bad/{reason}": n for reason, n in bad.counts.items()})
    data.stats[f"{split}_filtered_rows"] = filtered
    data.stats[f"{split}_parsed_pairs"] = len(pairs)
    if bad.total:
        data.issues[f"{split}_bad"] = bad.to_json()
    return pairs


def _load_raw(cfg: DatasetConfig) -> tuple[str, dict[str, tuple[str, list[tuple[str, object]]]]]:
    """(a description of the source, {split: (where, [(origin, raw row), ...])}) in the raw hub schema."""
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
    return source, {
        split: (source, [(f"{split} row {i}", row) for i, row in enumerate(loaded[split], start=1)])
        for split in ("train", "test")
        if split in loaded
    }


def reader_of(path: Path) -> str | None:
    return next((kind for suffix, kind in READERS.items() if path.name.endswith(suffix)), None)


def _load_local(root: Path) -> dict[str, tuple[str, list[tuple[str, object]]]]:
    if root.is_file():
        if reader_of(root) is None:
            raise DataError(f"{root}: unsupported file type; alignbench reads {SUPPORTED} files")
        files = {"train": [root]}
    elif root.is_dir():
        files = {
            split: sorted(p for p in root.iterdir() if p.is_file() and p.name.startswith(split) and reader_of(p))
            for split in ("train", "test")
        }
        files = {split: found for split, found in files.items() if found}
        if "train" not in files:
            others = sorted(p.name for p in root.iterdir() if p.name.startswith("train"))
            found = f" (found {', '.join(others)}: unsupported)" if others else ""
            raise DataError(f"{root}: no train* file of a supported type ({SUPPORTED}){found}")
    else:
        raise DataError(f"dataset.path {root} does not exist")
    return {
        split: (", ".join(str(p) for p in found), [row for path in found for row in read_rows(path)])
        for split, found in files.items()
    }


def read_rows(path: Path) -> list[tuple[str, object]]:
    """[(origin, raw row)] of one local file, origin "<file name>:<line>" (JSON lines) or "<file name> row <n>".
    Empty files, bytes that are not UTF-8 and invalid JSON fail naming the file and the line."""
    if reader_of(path) == "parquet":
        rows = _read_parquet(path)
        origins = [f"{path.name} row {i}" for i in range(1, len(rows) + 1)]
    else:
        data = _read_bytes(path)
        if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, as some editors write
            data = data[3:]
        if not data.strip():
            raise DataError(f"{path}: the file is empty; expected one JSON object per line")
        if data.lstrip().startswith(b"["):  # one JSON array of objects
            rows = [_json(path, data, 1)]
            if not isinstance(rows[0], list):
                raise DataError(f"{path}: expected one JSON object per line or one JSON array of objects")
            rows = rows[0]
            origins = [f"{path.name} item {i}" for i in range(1, len(rows) + 1)]
        else:
            lines = [(n, line) for n, line in enumerate(data.split(b"\n"), start=1) if line.strip()]
            rows = [_json(path, line, n) for n, line in lines]
            origins = [f"{path.name}:{n}" for n, _ in lines]
    if not rows:
        raise DataError(f"{path}: the file holds no rows")
    return list(zip(origins, rows, strict=True))


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot be read ({err})") from err


def _json(path: Path, text: bytes, first_line: int):
    """json.loads, with errors that name the file, the line and what is wrong."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as err:
        line = first_line + text[: err.start].count(b"\n")
        column = err.start - (text.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataError(
            f"{path}:{line}: byte 0x{text[err.start]:02x} at column {column} is not UTF-8; save the file as UTF-8"
        ) from err
    try:
        return json.loads(decoded)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path}:{first_line + err.lineno - 1}: invalid JSON ({err.msg} at column {err.colno}); "
            "each line must be one JSON object"
        ) from err


def _read_parquet(path: Path) -> list:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as err:  # pyarrow raises its own error types for a damaged or non-parquet file
        raise DataError(f"{path}: not a readable parquet file ({' '.join(str(err).split())})") from err
