"""The figures: a comparison's accuracy (compare.png) and the signal against depth of
`inspect --plot`. matplotlib is imported only when a figure is drawn."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from initcmp.store import atomic
from initcmp.analysis.diagnose import number
from initcmp.errors import OutputError


def save(fig, path: Path) -> None:
    """The figure as a PNG at `path`, written atomically like every record (store/atomic.py)."""
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replaced(path, binary=True) as f:
            fig.savefig(f, format="png", dpi=110)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def pyplot():
    """matplotlib's pyplot, drawing off screen (Agg), or into a Jupyter kernel's inline
    backend when it runs in one (ipykernel sets MPLBACKEND), so a returned figure shows."""
    import matplotlib

    if "inline" not in os.environ.get("MPLBACKEND", ""):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def detached(fig):
    """`fig`, let go by pyplot (which would otherwise keep it, and a notebook would show
    it twice): the figure itself still draws and saves."""
    pyplot().close(fig)
    return fig


def comparison(summary: dict, records: list[dict], path: Path) -> None:
    """compare.png: `comparison_figure` at `path`."""
    save(comparison_figure(summary, records), path)


def comparison_figure(summary: dict, records: list[dict]):
    """Left: test accuracy against step (mean over seeds, band = min to max).
    Right: final accuracy per initializer with its 95 % interval, seeds as dots, and
    the notebook's single-run number as a cross."""
    plt = pyplot()

    fig, (curves, finals) = plt.subplots(
        1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]}
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    noted = False
    for i, row in enumerate(summary["rows"]):
        color = colors[i % len(colors)]
        runs = [r for r in records if r["init"] == row["init"] and not r.get("diverged")]
        steps = (
            sorted(set.intersection(*[{s for s, _ in r["curve"]} for r in runs])) if runs else []
        )
        if steps:
            acc = np.array([[dict(r["curve"])[s] for s in steps] for r in runs], dtype=float)
            curves.plot(steps, acc.mean(axis=0), color=color, label=row["init"])
            curves.fill_between(steps, acc.min(axis=0), acc.max(axis=0), color=color, alpha=0.2)
        if row["mean_accuracy"] is not None:
            low, high = row["ci95"] or (row["mean_accuracy"], row["mean_accuracy"])
            finals.errorbar(
                i,
                row["mean_accuracy"],
                color=color,
                fmt="o",
                capsize=6,
                yerr=[[row["mean_accuracy"] - low], [high - row["mean_accuracy"]]],
            )
            finals.scatter(
                [i] * len(runs), [r["test_accuracy"] for r in runs], color=color, s=12, alpha=0.6
            )
        if row["diverged"]:  # no accuracy to draw: say so where it would be
            finals.annotate(
                f"{row['diverged']} diverged",
                (i, 0.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                color=color,
                fontsize=8,
            )
        if row["notebook"] is not None:
            finals.scatter(
                [i],
                [row["notebook"]],
                marker="x",
                color="black",
                s=50,
                label=None if noted else "notebook (single run)",
            )
            noted = True
    curves.set(
        xlabel="training step",
        ylabel="test accuracy",
        title="test accuracy during training (line: mean, band: min-max over seeds)",
    )
    curves.grid(alpha=0.3)
    curves.legend(loc="lower right")
    finals.set_xticks(range(len(summary["rows"])), [r["init"] for r in summary["rows"]])
    finals.set(ylabel="final test accuracy", title="final accuracy, 95 % interval over seeds")
    finals.grid(alpha=0.3, axis="y")
    if finals.get_legend_handles_labels()[0]:
        finals.legend(loc="lower right")
    fig.tight_layout()
    return fig


def signal(results: list[dict], path: str | Path) -> Path:
    """`inspect --plot`: `signal_figure` at `path`."""
    path = Path(path)
    save(signal_figure(results), path)
    return path


def signal_figure(results: list[dict]):
    """Activation std and weight-gradient std against depth (log scale), one line per
    initializer; points that are inf or NaN are left out and named in the legend."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, ax, title in (
        ("activation_std", axes[0], "activation std (after the nonlinearity)"),
        ("gradient_std", axes[1], "weight gradient std"),
    ):
        for result in results:
            depth = np.arange(1, len(result["layers"]) + 1)
            values = np.array([r[key] for r in result["layers"]], dtype=float)
            ok = np.isfinite(values) & (values > 0)
            label = result["init"]
            if not ok.all():
                label += f" ({number(values[~ok][0])} from layer {int(depth[~ok][0])})"
            line = ax.plot(depth[ok], values[ok], marker="o", markersize=3, label=label)[0]
            theory = np.array([r.get(f"predicted_{key}") or np.nan for r in result["layers"]])
            seen = np.isfinite(theory) & (theory > 0)
            if seen.any():  # mean-field theory's prediction, dashed, in the same colour
                ax.plot(depth[seen], theory[seen], linestyle="--", color=line.get_color())
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (the last is the logits)")
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, title="dashed: mean-field theory", title_fontsize=8)
    first = results[0]
    fig.suptitle(
        f"{len(first['hidden'])} hidden layers of {_widths(first['hidden'])} "
        f"{first['activation']} units, at initialization, on {first['batch']} "
        "training images"
    )
    fig.tight_layout()
    return fig


def _widths(hidden: list[int]) -> str:
    return str(hidden[0]) if len(set(hidden)) == 1 else "/".join(map(str, hidden))


def phase_diagram(activation: str, bias_variance: float, path: str | Path) -> Path:
    """`theory --plot`: `phase_figure` at `path`."""
    path = Path(path)
    save(phase_figure(activation, bias_variance), path)
    return path


def phase_figure(activation: str, bias_variance: float):
    """Mean-field theory's phase diagram for `activation`: the critical line χ₁ = 1 in
    (σ_w², σ_b²), and ξ_c against σ_w² at `bias_variance` (Schoenholz et al. 2017, Fig. 1
    and 2, recomputed here by analysis/theory.py)."""
    from initcmp.analysis import theory

    plt = pyplot()
    fig, (line, depth) = plt.subplots(1, 2, figsize=(11, 4.2))
    biases = np.concatenate([np.linspace(0.0, 0.02, 11)[:-1], np.linspace(0.02, 0.3, 29)])
    critical = [theory.critical_weight_variance(activation, b) for b in biases]
    shown = [(w, b) for w, b in zip(critical, biases) if w is not None]
    if shown:
        line.plot(*zip(*shown), color="black")
    line.set(xlabel="σ_w²", ylabel="σ_b²", title=f"{activation}: the critical line χ₁ = 1")
    line.text(0.05, 0.9, "ordered", transform=line.transAxes)
    line.text(0.8, 0.1, "chaotic", transform=line.transAxes)
    weights = np.linspace(0.5, 4.0, 36)
    xi = [theory.summary(activation, w, bias_variance)["xi_c"] for w in weights]
    depth.plot(weights, np.minimum(xi, 1e3), color="black", label="ξ_c")
    depth.plot(
        weights,
        6 * np.minimum(xi, 1e3),
        linestyle="--",
        color="gray",
        label="6 ξ_c: about the deepest that trains",
    )
    depth.set(
        xlabel="σ_w²",
        ylabel="layers",
        yscale="log",
        title=f"depth scale at σ_b² = {bias_variance:g}",
    )
    depth.legend(fontsize=8)
    for ax in (line, depth):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
