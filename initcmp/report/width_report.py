"""`initcmp coord-check`'s table, notes and figure (analysis/width_theory.py measures and
fits). The figure is the one `microsoft/mup`'s `plot_coord_data` draws: one panel per
step t, width on a log axis, mean |h| on a log axis, one line per layer (the seeds' mean)
with a band from the smallest to the largest seed; one row of panels per
parametrization, so standard and μP can be read side by side."""

from __future__ import annotations

import numpy as np

from initcmp.analysis import width_theory
from initcmp.report import plots
from initcmp.report import terminal

NAMES = {"standard": "standard (SP)", "ntk": "NTK", "mup": "μP"}


def _slope(value) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def title(result: dict) -> str:
    return (
        f"{NAMES[result['parametrization']]}: {result['optimizer']}, learning rate "
        f"{result['learning_rate']:g}, {result['init']} init"
        + (", zero readout" if result["readout"] == "zero" else "")
        + f", {result['activation']}, depth {result['depth']}, base width "
        f"{result['base_width']}, widths {result['widths'][0]}..{result['widths'][-1]}, "
        f"{len(result['seeds'])} seeds, batch {result['batch_size']}"
    )


COLUMNS = [
    "layer",
    "t=0 size\nslope",
    "theory",
    "t=1 change\nslope",
    "theory",
    "last step size: verdict",
]


def table_rows(result: dict) -> list[list[str]]:
    words = width_theory.exponent_words
    rows = []
    for r in width_theory.summary_rows(result):
        rows.append(
            [
                r["layer"],
                _slope(r["init_slope"]),
                words(r["init_theory"]) + ("" if r["init_agrees"] else " ✗"),
                _slope(r["update_slope"]),
                words(r["update_theory"]) + ("" if r["update_agrees"] else " ✗"),
                r["verdict"],
            ]
        )
    return rows


def notes(result: dict) -> list[str]:
    """The check in words: which layers' first updates match theory, which do not."""
    rows = width_theory.summary_rows(result)
    off = [r["layer"] for r in rows if not r["update_agrees"]]
    moving = [
        r["layer"]
        for r in rows
        if r["final_slope"] is not None and abs(r["final_slope"]) >= width_theory.STABLE
    ]
    lines = [
        "slopes: of log mean|h| against log width over the widths (seeds' mean); theory: "
        "Tensor Programs' exponent (analysis/width_theory.py); ✗: more than "
        f"{width_theory.STABLE} from it",
        (
            "every layer's first update scales as theory predicts"
            if not off
            else f"first update off theory in: {', '.join(off)}"
        ),
        (
            f"every layer is stable in width at t={result['steps']}"
            if not moving
            else f"not stable in width at t={result['steps']}: {', '.join(moving)}"
        ),
    ]
    return lines


def markdown(results: list[dict]) -> str:
    """Each parametrization's table and notes, in Markdown (Jupyter)."""
    parts = []
    for result in results:
        columns = [c.replace("\n", " ") for c in COLUMNS]
        table = terminal.markdown_table(columns, table_rows(result))
        notes_md = "".join(f"- {line}\n" for line in notes(result))
        parts.append(f"**{title(result)}**\n\n{table}\n{notes_md}")
    return "\n".join(parts)


def print_results(results: list[dict], console=None) -> None:
    out = console or terminal.console()
    for result in results:
        terminal.print_table(out, title(result), COLUMNS, table_rows(result))
        terminal.print_notes(out, notes(result))
        out.print("")


def figure(results: list[dict]):
    """A row of panels per parametrization, a panel per step t."""
    plt = plots.pyplot()
    steps = results[0]["steps"] + 1
    fig, axes = plt.subplots(
        len(results), steps, figsize=(3.2 * steps, 3.0 * len(results)), squeeze=False
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, result in zip(axes, results):
        size = np.asarray(result["size"], np.float64)  # (t, width, seed, layer)
        widths = result["widths"]
        for t, ax in enumerate(row):
            for j, layer in enumerate(result["layers"]):
                values = size[t, :, :, j]
                if np.all(values <= 0):
                    continue  # a zero readout at t = 0: nothing to draw on a log axis
                color = colors[j % len(colors)]
                ax.plot(widths, values.mean(axis=1), marker="o", ms=3, color=color, label=layer)
                ax.fill_between(
                    widths, values.min(axis=1), values.max(axis=1), color=color, alpha=0.2
                )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_title(f"{NAMES[result['parametrization']]}, t={t}", fontsize=9)
            ax.set_xlabel("width", fontsize=8)
            if t == 0:
                ax.set_ylabel("mean |h|", fontsize=8)
            ax.tick_params(labelsize=7)
        row[-1].legend(fontsize=7)
    fig.suptitle(
        f"coordinate check: {results[0]['optimizer']}, learning rate "
        f"{results[0]['learning_rate']:g}, {len(results[0]['seeds'])} seeds (band: min to max)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
