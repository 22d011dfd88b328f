"""Render a comparison: the terminal table, and compare.{json,csv,md,png} in the
experiment's log folder. Input is `stats.summarise`'s dict and `compare.collect`'s
records; nothing here trains or computes statistics."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from initcmp import plots
from initcmp.records import write_atomic

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
                    _pct(r["notebook"]),
                ]
            )
            continue
        spread = "" if r["std_accuracy"] is None else f" ± {100 * r['std_accuracy']:.2f}"
        ci = "" if r["ci95"] is None else f"{_pct(r['ci95'][0])}–{_pct(r['ci95'][1])}"
        out.append(
            [
                r["init"],
                runs,
                f"{_pct(r['mean_accuracy'])}{spread}",
                ci,
                f"{_pct(r['min_accuracy'])}–{_pct(r['max_accuracy'])}",
                f"{r['mean_loss']:.4g}",
                str(r["epochs"]),
                _seconds(r["seconds"]),
                _pct(r["notebook"]),
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


def terminal():
    """A rich console for stdout; into a file or pipe, wide enough not to fold tables."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=140)


def print_tables(summary: dict, console=None) -> None:
    console = console or terminal()
    title = "test accuracy by initializer, % (mean over seeds"
    title += "; notebook: its single published run)" if _has_notebook(summary) else ")"
    console.print(rich_table(title, _columns(summary), table_rows(summary)))
    if summary["paired"]:
        console.print(
            rich_table(
                f"each initializer against the best ({summary['best']}), paired by seed",
                PAIRED_COLUMNS,
                paired_rows(summary),
            )
        )


def rich_table(title: str, columns: list[str], rows: list[list[str]]):
    """A table with its first column (the names) on the left, numbers on the right."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def to_markdown(summary: dict) -> str:
    text = _md_table(_columns(summary), table_rows(summary))
    if summary["paired"]:
        text += "\n" + _md_table(PAIRED_COLUMNS, paired_rows(summary))
    return text


def _md_table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


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


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def _seconds(value: float) -> str:
    return f"{value:.1f}"


def print_inspection(results: list[dict], console=None) -> None:
    """`initcmp inspect`: per initializer, its per-layer table and the findings in words."""
    from initcmp import diagnose

    console = console or terminal()
    for result in results:
        params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
        title = (
            f"{result['init']}{f' ({params})' if params else ''}, seed {result['seed']}: "
            f"{len(result['hidden'])} hidden {result['activation']} layers at "
            f"initialization, {result['batch']} images, loss {result['loss']:.4g}"
        )
        console.print(rich_table(title, diagnose.COLUMNS, diagnose.table_rows(result)))
        for line in result["findings"]:
            console.print(f"  - {line}", soft_wrap=True, highlight=False)
        console.print()


def print_initializers(rows: list[dict]) -> None:
    """`initcmp inits`: name, formula, default parameters, paper."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="initializers (Dense kernel of shape fan_in x fan_out)")
    for column in ("name", "formula", "parameters", "reference"):
        table.add_column(column, overflow="fold")
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "-"
        table.add_row(row["name"], row["formula"], params, row["reference"])
    Console().print(table)
