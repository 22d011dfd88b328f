"""A learning-rate-transfer sweep's figure and table (a grid over `model.width` x
`train.learning_rate`, maybe x other keys such as `model.parametrization`): loss against
log2 learning rate, one curve per width, each width's best marked, and the drift of the
best learning rate from the narrowest to the widest width (Tensor Programs V, Figure 1's
form). The numbers are `analysis/width_theory.lr_transfer`'s, in the sweep's summary."""

from __future__ import annotations

import math

import numpy as np

from initcmp.analysis import width_theory
from initcmp.config.run_names import format_value
from initcmp.report.plots import pyplot

METRICS = (("train", "train-set loss"), ("test", "test loss"))


def group_title(group: dict) -> str:
    """`model.parametrization=mup`, or `all` for a grid of width and learning rate only."""
    values = group["values"]
    return ", ".join(f"{k.split('.')[-1]}={format_value(v)}" for k, v in values.items()) or "all"


def figure(summary: dict):
    """Rows: train-set loss, test loss; a column per group; x: log2 learning rate."""
    plt = pyplot()
    transfer = summary["lr_transfer"]
    widths, rates = transfer["widths"], transfer["learning_rates"]
    groups = transfer["groups"]
    fig, axes = plt.subplots(
        2, len(groups), figsize=(5.2 * len(groups), 7.0), squeeze=False, sharey="row"
    )
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(widths)))
    x = np.log2(rates)
    for column, group in enumerate(groups):
        for row, (name, label) in enumerate(METRICS):
            ax = axes[row][column]
            losses = group[f"{name}_loss"]
            for w, (width, color) in enumerate(zip(widths, colors)):
                y = np.array([math.nan if v is None else v for v in losses[w]], dtype=float)
                ax.plot(x, y, marker="o", ms=3, color=color, label=f"width {width}")
                best = group[f"best_{name}"][w]
                if best is not None:
                    ax.plot(
                        math.log2(best),
                        losses[w][rates.index(best)],
                        marker="*",
                        ms=13,
                        color=color,
                        markeredgecolor="black",
                        linestyle="none",
                    )
            steps, ratio = group[f"drift_{name}_steps"], group[f"drift_{name}_ratio"]
            drift = "" if steps is None else f"; drift x{ratio:.3g} ({steps:+d} steps)"
            ax.set_title(f"{group_title(group)}: {label}{drift}", fontsize=9)
            ax.set_yscale("log")
            ax.set_xlabel("log2 learning rate", fontsize=8)
            if column == 0:
                ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
        axes[0][column].legend(fontsize=7)
    seeds = len(summary["seeds"])
    fig.suptitle(
        f"{summary['name']}: loss against learning rate per width ({seeds} seed"
        f"{'' if seeds == 1 else 's'}, {summary['budget']}; star: each width's best)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def table_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """Per group and width: the best learning rate by train-set and by test loss, with
    those losses."""
    transfer = summary["lr_transfer"]
    rates = transfer["learning_rates"]
    columns = ["group", "width", "best lr (train-set loss)", "loss", "best lr (test loss)", "loss"]
    rows = []
    for group in transfer["groups"]:
        for w, width in enumerate(transfer["widths"]):
            cells = [group_title(group), str(width)]
            for name, _ in METRICS:
                best = group[f"best_{name}"][w]
                edge = " (edge)" if group[f"best_{name}_at_edge"][w] else ""
                loss = None if best is None else group[f"{name}_loss"][w][rates.index(best)]
                cells += [
                    "none" if best is None else width_theory.rates_words(best) + edge,
                    "" if loss is None else f"{loss:.4f}",
                ]
            rows.append(cells)
    return columns, rows


def notes(summary: dict) -> list[str]:
    """The drift per group, in words."""
    transfer = summary["lr_transfer"]
    widths, rates = transfer["widths"], transfer["learning_rates"]
    lines = []
    for group in transfer["groups"]:
        for name, label in METRICS:
            words = width_theory.drift_words(group, name, rates)
            lines.append(
                f"{group_title(group)}, {label}: from width {widths[0]} to {widths[-1]}, {words}"
            )
    return lines
