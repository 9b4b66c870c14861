"""The study's figures (paper Figs. 2-6, rank heatmaps, the trade-off scatter) as PNG + SVG, from a runs frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a cluster node or in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from alignbench.report.results import baselines, completed, headline, own_rows  # noqa: E402
from alignbench.report.study import BASE_METHOD, BENCHMARKS, PREFERENCE_ACCURACY, SAMPLES_PER_UNIT, SWEEPS  # noqa: E402
from alignbench.report.tables import Absent, parts, split_label  # noqa: E402

ERRORS = "error bars: std over seeds, none where n = 1; n = seeds per point"


@dataclass
class Figure:
    name: str
    title: str
    paths: dict  # png, svg


def scores(frame: pd.DataFrame, own: bool = True) -> pd.DataFrame:
    """Trained headline scores of completed runs (mixtures, merges and base measurements apart: they have their own
    tables), of each run's own adapter unless `own` is False (then with its eval.at_steps points)."""
    done = headline(completed(own_rows(frame) if own else frame), BENCHMARKS)
    return done[(done["stage"] == "trained") & (done["variant"] == "") & (done["method"] != BASE_METHOD)]


def one_configuration(data: pd.DataFrame, shown: list[str], rank=len) -> tuple[pd.DataFrame, str]:
    """The rows of one part of `data` in which each combination of `shown` is one configuration (so a bar or point
    never averages unlike runs): the part whose runs `rank` highest (default: the most runs), and a note naming
    what was left out."""
    found = parts(data.drop_duplicates("run_dir"), shown)
    if len(found) == 1:
        return data, ""
    biggest = max(found, key=lambda p: rank(p.runs))
    others = "; ".join(split_label(p.split) for p in found if p is not biggest)
    kept = data[data["run_dir"].isin(biggest.runs["run_dir"])]
    return kept, f"only {split_label(biggest.split)} (not shown: {others})"


def over_seeds(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and std over seeds per `by` (one configuration each: see one_configuration)."""
    per_seed = frame.groupby([*by, "seed"], dropna=False)["value"].mean()
    return per_seed.groupby(level=list(range(len(by))), dropna=False).agg(["mean", "std", "count"])


def _seed_spread(ax, x, mean, std, n, color, xerr=None) -> None:
    """Seed std as error bars only where n > 1 (one seed has no spread: a zero bar would claim one), and "n=k" at
    every point."""
    x, mean, std, n = (np.asarray(v, dtype=float) for v in (x, mean, std, n))
    spread = (n > 1) & ~np.isnan(std) & ~np.isnan(mean)
    if spread.any():
        ax.errorbar(
            x[spread],
            mean[spread],
            yerr=std[spread],
            xerr=None if xerr is None else np.asarray(xerr, dtype=float)[spread],
            fmt="none",
            ecolor=color,
            elinewidth=0.9,
            capsize=3,
            zorder=3,
            gid="seed_spread",
        )
    top = np.where(spread, mean + np.abs(np.nan_to_num(std)), mean)  # the label clears the error bar
    for xi, yi, ni in zip(x, top, n, strict=True):
        if not (np.isnan(yi) or np.isnan(ni)):
            ax.annotate(
                f"n={int(ni)}",
                (xi, yi),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                color="#444",
                gid="n_label",
            )
    ax.margins(y=0.12)  # room for the labels above the highest point


def _panels(count: int):
    """A grid of at most 3 panels a row (readable at page width); spare panels are hidden, the legend goes in
    the first spare one or, with none spare, to the right."""
    cols = min(count, 3)
    rows = -(-count // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(4.6 * cols + 1.2, 3.9 * rows + 0.8), squeeze=False)
    axes = list(grid.flat)
    for spare in axes[count:]:
        spare.axis("off")
    return fig, axes[:count], axes[count:]


def _finish(fig, used, spare, title: str, legend_title: str) -> None:
    handles, labels = used[0].get_legend_handles_labels()
    if spare:
        spare[0].legend(handles, labels, title=legend_title, loc="center", frameon=False, fontsize=11)
        fig.suptitle(title, fontsize=13)
        fig.tight_layout()
    else:
        fig.legend(handles, labels, title=legend_title, loc="center right", frameon=False)
        fig.suptitle(title, fontsize=13)
        fig.tight_layout(rect=(0, 0, 0.86, 1))


def _bars(frame: pd.DataFrame, x: str, hue: str, title: str, xlabel: str) -> plt.Figure:
    """One subplot per benchmark: bars of `hue` at each `x`, seed std as error bars, one shared legend."""
    present = [b for b in BENCHMARKS if b in set(frame["benchmark"])]
    fig, used, spare = _panels(len(present))
    for ax, benchmark in zip(used, present, strict=False):
        stats = over_seeds(frame[frame["benchmark"] == benchmark], [x, hue])
        means, stds, counts = (stats[c].unstack(hue) for c in ("mean", "std", "count"))
        means.plot.bar(ax=ax, rot=30, legend=False, width=0.75)
        for column, bars in zip(means.columns, ax.containers, strict=False):
            centers = np.array([bar.get_x() + bar.get_width() / 2 for bar in bars])
            _seed_spread(ax, centers, means[column], stds[column], counts[column], "black")
        spec = BENCHMARKS[benchmark]
        ax.set_title(spec.label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{spec.label} ({spec.unit})")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.grid(axis="y", alpha=0.3)
    _finish(fig, used, spare, f"{title}\n({ERRORS})", hue)
    return fig


def _main_slice(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """BeaverTails (the paper's data for these figures) when present, on the adapter with the most runs."""
    if (frame["dataset"] == "beavertails").any():
        frame = frame[frame["dataset"] == "beavertails"]
    peft = frame.groupby("peft")["run_dir"].nunique().idxmax()
    return frame[frame["peft"] == peft], f"{', '.join(sorted(frame['dataset'].unique()))}, {peft}"


def _labelled(data: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """A bar's x label from several coordinates (e.g. 'tiny_llama harmless')."""
    return data.assign(**{name: data[columns].astype(str).agg(" ".join, axis=1)})


def _drawn(data: pd.DataFrame, x: list[str], hue: str, title: str, xlabel: str):
    data, left_out = one_configuration(data, [*x, hue])
    data = _labelled(data, x, "where")
    return _bars(data, "where", hue, title + (f"\n{left_out}" if left_out else ""), xlabel)


def sft_vs_dpo(frame: pd.DataFrame):
    """Paper Fig. 4: SFT vs DPO per model (and preference) and benchmark."""
    data = scores(frame)
    if data["method"].nunique() < 2:
        return None
    data, where = _main_slice(data)
    return _drawn(data, ["model", "preference"], "method", f"SFT vs DPO per model ({where})", "base model, preference")


def base_vs_instruct(frame: pd.DataFrame):
    """Paper Fig. 5: pre-trained vs instruction-tuned bases of one family, per method and preference."""
    data = scores(frame)
    if data["kind"].nunique() < 2:
        return None
    data, where = _main_slice(data)
    title = f"Pre-trained vs instruction-tuned bases ({where})"
    return _drawn(data, ["family", "method", "preference"], "kind", title, "family, method, preference")


def lora_vs_qlora(frame: pd.DataFrame):
    """Paper Fig. 6: LoRA vs QLoRA, on the configurations that ran with both."""
    data = scores(frame)
    data = data[data["peft"].isin(["lora", "qlora"])]
    place = ["dataset", "preference", "model", "method", "seed"]
    data = data[data.groupby(place)["peft"].transform("nunique") == 2]
    if data.empty:
        return None
    where = ", ".join(sorted(data["dataset"].unique()))
    title = f"LoRA vs QLoRA per model ({where}; configurations run with both)"
    return _drawn(data, ["model", "method", "preference"], "peft", title, "base model, method, preference")


LINE = ["model", "method", "preference", "peft"]  # one curve of the data-quantity figures, per dataset


def _curves(data: pd.DataFrame, y: str, ylabel: str, title: str):
    """A row of panels per dataset, a panel per benchmark, one line per (model, method, preference, adapter) over
    training samples / 1,600."""
    present = [b for b in BENCHMARKS if b in set(data["benchmark"])]
    datasets = sorted(data["dataset"].unique())
    fig, grid = plt.subplots(
        len(datasets), len(present), figsize=(4.6 * len(present) + 2.6, 3.9 * len(datasets) + 0.8), squeeze=False
    )
    for row, dataset in zip(grid, datasets, strict=True):
        for ax, benchmark in zip(row, present, strict=True):
            mine = data[(data["dataset"] == dataset) & (data["benchmark"] == benchmark)]
            stats = over_seeds(mine.assign(value=mine[y]), [*LINE, "relative"])
            for key, line in stats.groupby(level=list(range(len(LINE)))):
                line = line.droplevel(list(range(len(LINE))))
                label = " ".join(map(str, key))
                (drawn,) = ax.plot(line.index, line["mean"], marker="o", label=label)
                _seed_spread(ax, line.index, line["mean"], line["std"], line["count"], drawn.get_color())
            spec = BENCHMARKS[benchmark]
            ax.set_title(f"{spec.label}, {dataset}")
            ax.set_xlabel(f"training samples / {SAMPLES_PER_UNIT:,}")
            ax.set_ylabel(ylabel.format(label=spec.label, unit=spec.unit))
            ax.grid(alpha=0.3)
    handles, labels = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, title="model, method, preference, adapter", loc="center right", frameon=False)
    fig.suptitle(f"{title}\n({ERRORS})", fontsize=13)
    fig.tight_layout(rect=(0, 0, 0.82, 1))
    return fig


def _quantity_points(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Scores at several amounts of data (eval.at_steps points and runs of several step counts) of the lines that
    have more than one amount, one configuration per point (and a note on what was left out for that)."""
    data = scores(frame, own=False).dropna(subset=["samples"])
    data = data[data.groupby(["dataset", *LINE])["samples"].transform("nunique") > 1]
    if data.empty:
        return data.assign(relative=[]), ""
    data, left_out = one_configuration(data, ["dataset", *LINE, "samples"])
    return data.assign(relative=data["samples"] / SAMPLES_PER_UNIT), left_out


def quantity(frame: pd.DataFrame):
    """Paper Fig. 2: score vs training samples relative to 1,600, a row of panels per dataset."""
    data, left_out = _quantity_points(frame)
    if data.empty:
        return None
    title = "Score vs amount of preference data" + (f"; {left_out}" if left_out else "")
    return _curves(data, "value", "{label} ({unit})", title)


def relative_points(frame: pd.DataFrame) -> pd.DataFrame:
    """BeaverTails quantity points with `percent`: each score as % of the 1,600-sample score of the same model,
    method, preference, adapter, benchmark and seed."""
    data, _ = _quantity_points(frame)
    data = data[data["dataset"] == "beavertails"]
    key = [*LINE, "benchmark", "seed"]
    reference = data[data["samples"] == SAMPLES_PER_UNIT].set_index(key)["value"].rename("reference")
    data = data.join(reference, on=key).dropna(subset=["reference"])
    data = data[data["reference"] != 0]
    return data.assign(percent=100 * data["value"] / data["reference"])


def quantity_relative(frame: pd.DataFrame):
    """Paper Fig. 3: BeaverTails, each point as % of the 1,600-sample score of the same model, method and
    preference (seed by seed, so the error bars are the seed spread of the ratio)."""
    data = relative_points(frame)
    if data.empty:
        return None
    title = "Score as % of the 1,600-sample score (BeaverTails)"
    return _curves(data, "percent", "{label}, % of 1,600 samples", title)


def _grid_size(runs: pd.DataFrame) -> int:
    """How much of a rank x alpha grid search a part holds."""
    return len(runs.drop_duplicates(["r", "alpha"]))


def rank_alpha(frame: pd.DataFrame):
    """LoRA rank x alpha heatmaps per method (paper_rank), the best cell by held-out preference accuracy boxed:
    the paper picked its ranks by a validation metric."""
    done = completed(own_rows(frame))
    pref = done[(done["stage"] == "trained") & (done["benchmark"] + "/" + done["metric"] == PREFERENCE_ACCURACY)]
    pref, left_out = one_configuration(pref, ["method", "r", "alpha"], _grid_size) if len(pref) else (pref, "")
    methods = [m for m, g in pref.groupby("method") if g["r"].nunique() > 1 and g["alpha"].nunique() > 1]
    if not methods:
        return None
    fig, axes = plt.subplots(1, len(methods), figsize=(5.4 * len(methods), 4.6), squeeze=False)
    for ax, method in zip(axes[0], methods, strict=False):
        grid = pref[pref["method"] == method].pivot_table(index="r", columns="alpha", values="value", aggfunc="mean")
        image = ax.imshow(grid.to_numpy(), cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), grid.columns)
        ax.set_yticks(range(grid.shape[0]), grid.index)
        seeds = pref[pref["method"] == method].pivot_table(index="r", columns="alpha", values="seed", aggfunc="nunique")
        for (i, j), value in np.ndenumerate(grid.to_numpy()):
            n = seeds.iloc[i, j]
            if not np.isnan(value):
                ax.text(j, i, f"{value:.3f}\nn={int(n)}", ha="center", va="center", color="white", fontsize=9)
        best = np.unravel_index(np.nanargmax(grid.to_numpy()), grid.shape)
        ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
        ax.set_title(f"{method.upper()} (best boxed: r={grid.index[best[0]]}, alpha={grid.columns[best[1]]})")
        ax.set_xlabel("LoRA alpha")
        ax.set_ylabel("LoRA rank r")
        fig.colorbar(image, ax=ax, label="held-out preference accuracy (fraction)")
    fig.suptitle(f"LoRA rank x alpha: held-out preference accuracy, mean over seeds\n{left_out}", fontsize=12)
    fig.tight_layout()
    return fig


def tradeoff(frame: pd.DataFrame):
    """Harmlessness (RealToxicity) against helpfulness (AlpacaEval): colour = method, marker = model,
    filled = harmless / hollow = helpful preference, black = the unaligned base (no labels to overlap)."""
    from matplotlib.lines import Line2D

    data = scores(frame)
    x, y = "alpaca_eval", "real_toxicity"
    if not {x, y} <= set(data["benchmark"]):
        return None
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = dict(zip(sorted(data["method"].unique()), palette, strict=False))
    models = sorted(set(data["model"]))
    markers = dict(zip(models, "osD^vP*X<>", strict=False))
    fig, ax = plt.subplots(figsize=(9, 6.5))
    # One point per configuration (cell): datasets, adapters and settings are never averaged together.
    for (model, method, preference, _), cell in data.groupby(["model", "method", "preference", "cell"]):
        if not {x, y} <= set(cell["benchmark"]):
            continue
        sx = over_seeds(cell[cell["benchmark"] == x], ["model"]).iloc[0]
        sy = over_seeds(cell[cell["benchmark"] == y], ["model"]).iloc[0]
        ax.plot(
            sx["mean"],
            sy["mean"],
            marker=markers[model],
            markersize=8,
            color=colors[method],
            alpha=0.85,
            linestyle="none",
            markerfacecolor=colors[method] if preference == "harmless" else "white",
        )
        n = min(sx["count"], sy["count"])
        _seed_spread(ax, [sx["mean"]], [sy["mean"]], [sy["std"]], [n], colors[method], xerr=[sx["std"]])
    base = headline(baselines(frame), BENCHMARKS).pivot_table(index="cell", columns="benchmark", values="value")
    base["model"] = base.index.str.split(":").str[1]
    if {x, y} <= set(base.columns):
        for _, point in base.iterrows():
            model = point["model"]
            ax.plot(point[x], point[y], marker=markers.get(model, "x"), color="black", markersize=9, linestyle="none")
    legend = [Line2D([], [], color=c, marker="o", linestyle="none", label=m) for m, c in colors.items()]
    legend += [Line2D([], [], color="gray", marker=markers[m], linestyle="none", label=m) for m in models]
    legend += [
        Line2D([], [], color="gray", marker="o", linestyle="none", label="harmless preference"),
        Line2D([], [], color="gray", marker="o", markerfacecolor="white", linestyle="none", label="helpful preference"),
        Line2D([], [], color="black", marker="o", linestyle="none", label="unaligned base"),
    ]
    ax.legend(handles=legend, frameon=False, fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_xlabel(f"helpfulness: {BENCHMARKS[x].label} ({BENCHMARKS[x].unit})")
    ax.set_ylabel(f"harmlessness: {BENCHMARKS[y].label} ({BENCHMARKS[y].unit})")
    ax.set_title(f"Harmlessness vs helpfulness, one point per configuration (mean over its seeds)\n({ERRORS})")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# name -> (title, drawing function, the sweep that produces its runs when they are absent)
FIGURES = {
    "sft_vs_dpo": ("SFT vs DPO per model and benchmark (paper Fig. 4)", sft_vs_dpo, SWEEPS["main"]),
    "base_vs_instruct": ("Pre-trained vs instruction-tuned (paper Fig. 5)", base_vs_instruct, SWEEPS["main"]),
    "lora_vs_qlora": ("LoRA vs QLoRA (paper Fig. 6)", lora_vs_qlora, SWEEPS["main"]),
    "quantity": ("Score vs training samples relative to 1,600 (paper Fig. 2)", quantity, SWEEPS["quantity"]),
    "quantity_relative": (
        "Score as % of the 1,600-sample score, BeaverTails (paper Fig. 3)",
        quantity_relative,
        SWEEPS["quantity"],
    ),
    "rank_alpha": ("LoRA rank x alpha (the paper's grid search)", rank_alpha, SWEEPS["rank"]),
    "tradeoff": ("Harmlessness vs helpfulness trade-off", tradeoff, SWEEPS["main"]),
}


def draw_figures(frame: pd.DataFrame, folder: Path) -> list[Figure | Absent]:
    """Every figure whose runs exist, as <name>.png and <name>.svg; the others as Absent with their sweep."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Figure | Absent] = []
    for name, (title, draw, sweep) in FIGURES.items():
        fig = draw(frame)
        if fig is None:
            out.append(Absent(name, title, sweep))
            continue
        paths = {ext: folder / f"{name}.{ext}" for ext in ("png", "svg")}
        fig.savefig(paths["png"], dpi=110)
        fig.savefig(paths["svg"])
        plt.close(fig)
        out.append(Figure(name, title, paths))
    return out
