"""Render a comparison: the terminal table, and compare.{json,csv,md,png} in the
experiment's log folder. Input is `stats.summarise`'s dict and `compare.collect`'s
records; nothing here trains or computes statistics."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from initcmp.report import plots
from initcmp.report import terminal
from initcmp.store.records import write_atomic
from initcmp import text

COLUMNS = [
    "init",
    "runs",
    "acc % ± std",
    "95% CI",
    "min–max",
    "loss",
    "epochs",
    "s/run",
    "notebook",
]


def write_files(summary: dict, records: list[dict], folder: Path) -> list[Path]:
    """Write compare.json, compare.csv, compare.md and compare.png; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"compare.{ext}" for ext in ("json", "csv", "md", "png")]
    write_atomic(paths[0], json.dumps(summary, indent=2) + "\n")
    write_atomic(paths[1], to_csv(summary))
    write_atomic(paths[2], to_markdown(summary))
    plots.comparison(summary, records, paths[3])
    return paths


def kept_because(summary: dict, folder: Path) -> str | None:
    """Why the files in `folder` must stay as they are, or None: they cover runs that
    `summary` leaves out (a report of a subset), and writing it would lose them."""
    lost = left_out(summary, folder)
    if not lost:
        return None
    return (
        f"left {folder}/compare.* as they are: they cover {len(lost)} runs this report "
        f"leaves out ({text.listing(lost)}); remove them to write this one instead"
    )


def left_out(summary: dict, folder: Path) -> list[str]:
    """The runs that the comparison already written in `folder` (its compare.json) covers
    and `summary` does not."""
    try:
        before = _covered(json.loads((folder / "compare.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):  # none, or not one of ours
        return []
    return [f"{init}-s{seed}" for init, seed in sorted(before - _covered(summary))]


def _covered(summary: dict) -> set[tuple[str, int]]:
    return {(r["init"], d["seed"]) for r in summary["rows"] for d in r["runs_detail"]}


def _has_notebook(summary: dict) -> bool:
    return any(r["notebook"] is not None for r in summary["rows"])


def _columns(summary: dict) -> list[str]:
    """The notebook column only where the experiment is the notebook's."""
    return COLUMNS if _has_notebook(summary) else COLUMNS[:-1]


def table_rows(summary: dict) -> list[list[str]]:
    """The table as text cells, shared by the terminal and Markdown renderings."""
    keep = len(_columns(summary))
    return [row[:keep] for row in _table_rows(summary)]


def _table_rows(summary: dict) -> list[list[str]]:
    out = []
    for r in summary["rows"]:
        marks = [
            f"{r[k]} {word}"
            for k, word in (("diverged", "diverged"), ("at_chance", "at chance"))
            if r.get(k)
        ]
        runs = f"{r['runs']}" + (f" ({', '.join(marks)})" if marks else "")
        if r["mean_accuracy"] is None:
            out.append(
                [
                    r["init"],
                    runs,
                    "diverged",
                    "",
                    "",
                    "",
                    str(r["epochs"]),
                    _seconds(r["seconds"]),
                    text.percent(r["notebook"]),
                ]
            )
            continue
        spread = "" if r["std_accuracy"] is None else f" ± {100 * r['std_accuracy']:.2f}"
        ci = (
            ""
            if r["ci95"] is None
            else f"{text.percent(r['ci95'][0])}–{text.percent(r['ci95'][1])}"
        )
        out.append(
            [
                r["init"],
                runs,
                f"{text.percent(r['mean_accuracy'])}{spread}",
                ci,
                f"{text.percent(r['min_accuracy'])}–{text.percent(r['max_accuracy'])}",
                f"{r['mean_loss']:.4g}",
                str(r["epochs"]),
                _seconds(r["seconds"]),
                text.percent(r["notebook"]),
            ]
        )
    return out


def paired_rows(summary: dict) -> list[list[str]]:
    out = []
    for p in summary["paired"]:
        diff = "" if p["mean_difference"] is None else f"{100 * p['mean_difference']:+.2f} points"
        pval = "n/a" if p["p_value"] is None else f"{p['p_value']:.3g}"
        out.append([p["init"], p["best"], diff, pval, str(len(p["shared_seeds"]))])
    return out


PAIRED_COLUMNS = ["init", "vs best", "mean paired difference", "paired t-test p", "seeds"]


def print_tables(summary: dict, console=None) -> None:
    """The comparison on the terminal, fitted to its width (`terminal.print_table`):
    epochs, when every row has the same, go into the title; s/run, min–max and loss are
    left out, in that order, only where the table would not fit; the paired table has
    no "vs best" column, its title names the best."""
    out = console or terminal.console()
    columns, rows = _columns(summary), table_rows(summary)
    title = "test accuracy by initializer, % (mean over seeds"
    epochs = {row[columns.index("epochs")] for row in rows}
    if len(epochs) == 1:
        (n,) = epochs
        title += f", {n} epoch{'' if n == '1' else 's'}"
        columns, rows = _without("epochs", columns, rows)
    title += "; notebook: its single published run)" if _has_notebook(summary) else ")"
    terminal.print_table(
        out,
        title,
        columns,
        rows,
        optional=("s/run", "min–max", "loss"),
        wrap=("runs",),
        elsewhere="compare.md has every column",
    )
    if summary["paired"]:
        terminal.print_table(
            out,
            f"each initializer against the best ({summary['best']}), paired by seed",
            *_without("vs best", PAIRED_COLUMNS, paired_rows(summary)),
        )


def _without(column: str, columns: list[str], rows: list[list[str]]):
    """`columns` and `rows` without `column`."""
    i = columns.index(column)
    return columns[:i] + columns[i + 1 :], [row[:i] + row[i + 1 :] for row in rows]


def to_markdown(summary: dict, titles: tuple[str, str] = ("", "\n")) -> str:
    """compare.md: the table and the paired one, each after its title in `titles`."""
    text = titles[0] + terminal.markdown_table(_columns(summary), table_rows(summary))
    if summary["paired"]:
        text += titles[1] + terminal.markdown_table(PAIRED_COLUMNS, paired_rows(summary))
    return text


def to_csv(summary: dict) -> str:
    """One row per initializer, numbers as numbers (fractions, not percent)."""
    fields = [
        "init",
        "runs",
        "diverged",
        "mean_accuracy",
        "std_accuracy",
        "ci95_low",
        "ci95_high",
        "min_accuracy",
        "max_accuracy",
        "mean_loss",
        "epochs",
        "seconds",
        "notebook",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in summary["rows"]:
        low, high = r["ci95"] or (None, None)
        writer.writerow({**{k: r[k] for k in fields if k in r}, "ci95_low": low, "ci95_high": high})
    return buffer.getvalue()


def _seconds(value: float) -> str:
    return f"{value:.1f}"


def print_inspection(results: list[dict], console=None) -> None:
    """`initcmp inspect`: per initializer, its per-layer table and the findings in words."""
    from initcmp.analysis import diagnose

    out = console or terminal.console()
    for result in results:
        terminal.print_table(
            out,
            inspection_title(result),
            diagnose.columns(result),
            diagnose.table_rows(result),
            optional=("act mean", "fan in→out", diagnose.THEORY_GRAD, diagnose.THEORY_ACT),
            elsewhere="--json has every value",
        )
        terminal.print_notes(out, result["findings"])
        out.print()


def inspection_title(result: dict) -> str:
    """The line above one initializer's `inspect` table."""
    params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
    return (
        f"{result['init']}{f' ({params})' if params else ''}, seed {result['seed']}: "
        f"{len(result['hidden'])} hidden {result['activation']} layers at "
        f"initialization, {result['batch']} images, loss {result['loss']:.4g}"
    )


def print_initializers(rows: list[dict], console=None) -> None:
    """`initcmp inits`: per initializer its name, then formula, default parameters and
    paper on lines of their own (four columns side by side would not fit 80 columns)."""
    from rich.table import Table

    from initcmp.inits.registry import BIASES

    out = console or terminal.console()
    out.print("initializers (Dense kernel of shape fan_in x fan_out)", highlight=False)
    out.print(BIASES, highlight=False)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "none"
        aliases = ", ".join(row.get("aliases", ()))  # other names it accepts (inits/aliases.py)
        also = f"\nalso accepted as: {aliases}" if aliases else ""
        text = f"{row['formula']}\nparameters: {params}{also}\n{row['reference']}\n"
        grid.add_row(row["name"], text)
    out.print(grid, highlight=False)


THEORY_COLUMNS = ["layer", "σ_w²", "q", "act std", "χ", "δ", "grad"]
THEORY_TITLE = (
    "per layer, predicted (δ: the backward signal's std, grad: the weight gradient's, "
    "each over the logits layer's)"
)


def print_theory(cfg, result: dict, console=None) -> None:
    """`initcmp theory`: the summary in words, then the per-layer predictions."""
    out = console or terminal.console()
    terminal.print_notes(out, theory_notes(cfg, result))
    terminal.print_table(out, THEORY_TITLE, THEORY_COLUMNS, theory_rows(result))
    if after := theory_after(result):
        terminal.print_notes(out, after)


def theory_after(result: dict) -> list[str]:
    """What `theory` says below its table: where its δ and grad columns disagree."""
    from initcmp.analysis import predict

    words = predict.gradient_words(result["layers"])
    return [words] if words else []


def theory_notes(cfg, result: dict) -> list[str]:
    """What `theory` says in words above its table."""
    from initcmp.analysis.diagnose import number

    layers = result["layers"]
    return [
        f"{cfg.model.activation}, {cfg.init.name}: σ_w² = {number(result['weight_variance'])} "
        f"(hidden to hidden), σ_b² = {number(result['bias_variance'])}, q¹ = "
        f"{number(layers[0]['q'])} from the training images",
        f"q* = {number(result['q_star'])}, χ₁ = {number(result['chi_1'])}, c* = "
        f"{number(result['c_star'])}, χ_c = {number(result['chi_c'])}, ξ_c = "
        f"{number(result['xi_c'])}, ξ_q = {number(result['xi_q'])}",
        *(
            []
            if "critical_weight_variance" not in result
            else [
                "critical line at this σ_b²: σ_w² = "
                + (
                    number(result["critical_weight_variance"])
                    if result["critical_weight_variance"] is not None
                    else "none (no crossing)"
                )
            ]
        ),
        result["meaning"],
    ]


def theory_rows(result: dict) -> list[list[str]]:
    """`theory`'s per-layer table as text cells (THEORY_COLUMNS)."""
    from initcmp.analysis.diagnose import number

    layers = result["layers"]
    names = [f"hidden_{i}" for i in range(len(layers) - 1)] + ["logits"]
    return [
        [
            name,
            number(r["weight_variance"]),
            number(r["q"]),
            number(r["activation_std"]),
            number(r["chi"]),
            number(r["delta_ratio"]),
            number(r["gradient_ratio"]),
        ]
        for name, r in zip(names, layers)
    ]
