"""A sweep's figure (sweep.png): a line with its 95 % interval for one axis; for two, one
line per value when one axis is a short list of names (init.name x model.depth), else
heatmaps (train-set and test accuracy side by side); for more, a pair of heatmaps per
value of the rest. Train-set and test accuracy are always both drawn.

What a reader can trust: a numeric axis spanning more than a factor of LOG_SPAN (a
learning rate from 1e-4 to 0.1) is drawn on a log scale; a heatmap's cells sit one per
grid value, ticked with it and labelled with their accuracy; intervals are clipped to
0-100 % (report/stats.py) and the title gives the seed count; legends go where they
cover no data. Where the axes are `model.depth` and an `init.` key, the heatmaps carry
the theory's trainable-depth curves L = k·ξ_c (Schoenholz et al. 2017: networks train up
to about 6 ξ_c). matplotlib is imported only when a figure is drawn."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from initcmp.config.run_names import format_value
from initcmp.report.plots import pyplot, save

DEPTH = "model.depth"
MULTIPLES = (3, 6)  # the curves k·ξ_c drawn: predict.meaning's "edge" and "beyond"
MAX_PANELS = 12
MAX_LINES = 8
LOG_SPAN = 20  # a positive numeric axis spanning more than this factor is drawn in log
MAX_LABELLED = 400  # heatmap cells labelled with their accuracy, at most


def sweep(summary: dict, path: Path) -> None:
    """sweep.png: `figure` at `path`."""
    save(figure(summary), path)


def figure(summary: dict):
    """A line (and band) per value of a named axis for one numeric axis, else heatmaps."""
    if summary.get("lr_transfer"):  # model.width x train.learning_rate: report/lr_transfer.py
        from initcmp.report import lr_transfer

        return lr_transfer.figure(summary)
    axes = list(summary["axes"])
    named = [k for k in axes if not _numeric(summary["axes"][k])]
    if len(axes) == 1:
        return _lines(summary, axes[0], None)
    if len(axes) == 2 and len(named) == 1 and len(summary["axes"][named[0]]) <= MAX_LINES:
        return _lines(summary, next(k for k in axes if k != named[0]), named[0])
    return _heatmaps(summary, axes)


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _positions(values: list) -> tuple[np.ndarray, list[str] | None]:
    """Where each value sits on an axis: itself if numeric, else its index (and labels)."""
    if _numeric(values):
        return np.array(values, dtype=float), None
    return np.arange(len(values), dtype=float), [format_value(v) for v in values]


def _logarithmic(values: list) -> bool:
    """A numeric axis of positive values spanning more than LOG_SPAN: log scale."""
    if not _numeric(values) or min(values) <= 0:
        return False
    return max(values) / min(values) > LOG_SPAN


def _lines(summary: dict, key: str, by: str | None):
    """Accuracy against `key`, one line (and band) per value of `by`: train-set accuracy
    on the left, test accuracy on the right."""
    plt = pyplot()
    fig, panels = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    values = summary["axes"][key]
    x, labels = _positions(values)
    groups = summary["axes"][by] if by else [None]
    for ax, metric in zip(panels, ("train_accuracy", "accuracy")):
        for group in groups:
            cells = [c for c in summary["cells"] if by is None or c["values"][by] == group]
            cells.sort(key=lambda c: values.index(c["values"][key]))
            mean = np.array([_nan(c[f"mean_{metric}"]) for c in cells])
            if np.isnan(mean).all():
                continue
            label = format_value(group) if by else None
            line = ax.plot(x, mean, marker="o", label=label)[0]
            ci = [c[f"ci95_{metric}"] or (None, None) for c in cells]
            low = np.array([_nan(lo) for lo, _ in ci])
            high = np.array([_nan(hi) for _, hi in ci])
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
        if labels:
            ax.set_xticks(x, labels)
        elif _logarithmic(values):
            ax.set_xscale("log")
            ax.set_xticks(x, [format_value(v) for v in values])
            ax.minorticks_off()
        ax.set(xlabel=key, ylim=(0, 1), title=_label(metric))
        ax.grid(alpha=0.3)
    panels[0].set_ylabel("accuracy")
    if by:  # beside the panels, over no data
        panels[1].legend(
            fontsize=8,
            title=f"{by}; band: 95 % interval",
            title_fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
        )
    fig.suptitle(_title(summary))
    fig.tight_layout()
    return fig


def _heatmaps(summary: dict, axes: list[str]):
    """Two axes: train-set and test accuracy. More: one panel per value of the rest."""
    y_key, x_key = (DEPTH, next(k for k in axes if k != DEPTH)) if DEPTH in axes else axes[:2]
    rest = [k for k in axes if k not in (x_key, y_key)]
    has_train = any(c["mean_train_accuracy"] is not None for c in summary["cells"])
    metrics = (("train_accuracy",) if has_train else ()) + ("accuracy",)
    combos = list(itertools.product(*(summary["axes"][k] for k in rest))) if rest else [()]
    panels = [(dict(zip(rest, c)), m) for c in combos for m in metrics][:MAX_PANELS]
    plt = pyplot()
    cols = min(len(panels), 2 if len(metrics) == 2 else 3)
    rows = math.ceil(len(panels) / cols)
    fig, grid = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.6 * rows), squeeze=False)
    for ax in grid.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (fixed, shown) in zip(grid.flat, panels):
        image = _heatmap(ax, summary, x_key, y_key, fixed, shown)
        fig.colorbar(image, ax=ax, label=_label(shown))
    fig.suptitle(_title(summary))
    fig.tight_layout()
    return fig


def _heatmap(ax, summary, x_key, y_key, fixed: dict, metric: str):
    """One cell per grid value on each axis (its index), ticked with the value and
    labelled with its accuracy; the ξ_c curves placed between the ticks they fall
    between."""
    xs, ys = summary["axes"][x_key], summary["axes"][y_key]
    x, y = np.arange(len(xs), dtype=float), np.arange(len(ys), dtype=float)
    grid = np.full((len(ys), len(xs)), np.nan)
    for cell in summary["cells"]:
        values = cell["values"]
        if any(values[k] != v for k, v in fixed.items()):
            continue
        i, j = ys.index(values[y_key]), xs.index(values[x_key])
        grid[i, j] = _nan(cell[f"mean_{metric}"])
    image = ax.pcolormesh(_edges(x), _edges(y), grid, vmin=0, vmax=1, cmap="viridis")
    if grid.size <= MAX_LABELLED:
        size = 8 if grid.size <= 60 else 6
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                shade = "black" if value > 0.6 else "white"  # readable on viridis
                ax.text(
                    j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=size, color=shade
                )
    curve = summary.get("xi_c_curve")
    if y_key == DEPTH and curve and curve["key"] == x_key and _increasing(xs) and _increasing(ys):
        xi = np.array([_nan(v) for v in curve["xi_c"]])  # "inf" (critical): off the top
        at = np.interp(curve["values"], xs, x)  # the curve in cell coordinates
        for k, style in zip(MULTIPLES, (":", "--")):
            depth = np.minimum(k * xi, 1e6)
            ax.plot(
                at,
                np.interp(depth, ys, y, right=1e6),
                color="white",
                linestyle=style,
                label=f"depth = {k} ξ_c",
            )
        ax.set_ylim(_edges(y)[0], _edges(y)[-1])
        ax.legend(
            fontsize=8,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=2,
            facecolor="0.3",
            edgecolor="none",
            labelcolor="white",
        )
    ax.set_xticks(x, [format_value(v) for v in xs], rotation=45 if len(xs) > 8 else 0)
    ax.set_yticks(y, [format_value(v) for v in ys])
    where = ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items())
    title = f"{where}: {_label(metric)}" if where else _label(metric)
    ax.set(xlabel=x_key, ylabel=y_key)
    ax.set_title(title, pad=30 if curve else 6)
    return image


def _increasing(values: list) -> bool:
    return _numeric(values) and all(a < b for a, b in zip(values, values[1:]))


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway between centres (and as far again outside the ends)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def _label(metric: str) -> str:
    return {
        "accuracy": "test accuracy",
        "train_accuracy": "train-set accuracy",
    }[metric] + " (mean over seeds)"


def _title(summary: dict) -> str:
    seeds = len(summary["seeds"])
    return f"{summary['name']}: {summary['budget']}, {seeds} seed{'' if seeds == 1 else 's'}"


def _nan(value) -> float:
    """None as NaN; numbers (and "inf", as JSON holds it) as floats."""
    return np.nan if value is None else float(value)
