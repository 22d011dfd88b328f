"""Render a sweep: the terminal table, and sweep.{json,csv,md,png} in the experiment's log
folder. Input is `sweep.summarise`'s dict; nothing here trains or computes statistics."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from initcmp.report import lr_transfer
from initcmp.report import sweep_plots
from initcmp.store import records
from initcmp.report import terminal
from initcmp.config.run_names import format_value, short_names
from initcmp.store.records import write_atomic
from initcmp import text

# Per cell, after the grid's keys; `--json` and sweep.json have every key of the cells.
COLUMNS = ["runs", "test acc % ± std", "95% CI", "train acc %", "χ₁", "ξ_c", "L/ξ_c", "phase"]
CSV_FIELDS = [
    "runs",
    "diverged",
    "mean_accuracy",
    "std_accuracy",
    "ci95_low",
    "ci95_high",
    "mean_train_accuracy",
    "std_train_accuracy",
    "mean_loss",
    "mean_train_loss",
    "weight_variance",
    "chi_1",
    "xi_c",
    "depth",
    "depth_over_xi_c",
    "phase",
    "seconds",
]


def as_json(summary: dict) -> dict:
    """The summary for JSON: floats to 6 digits, inf as "inf" (as `inspect --json`)."""
    return records.json_safe(summary, lambda v: str(v), 6)


def write_files(summary: dict, folder: Path) -> list[Path]:
    """Write sweep.json, sweep.csv, sweep.md and sweep.png; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"sweep.{ext}" for ext in ("json", "csv", "md", "png")]
    write_atomic(paths[0], json.dumps(as_json(summary), indent=2) + "\n")
    write_atomic(paths[1], to_csv(summary))
    write_atomic(paths[2], to_markdown(summary))
    sweep_plots.sweep(summary, paths[3])
    return paths


def table_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    keys = list(summary["axes"])
    # Each grid key by its last part (run_names.short_names), init.name as `init`.
    names = ["init" if k == "init.name" else n for k, n in zip(keys, short_names(keys))]
    columns = names + COLUMNS
    rows = []
    for cell in summary["cells"]:
        ci = cell["ci95_accuracy"]
        runs = str(cell["runs"]) + (f" ({cell['diverged']} diverged)" if cell["diverged"] else "")
        rows.append(
            [format_value(cell["values"][k]) for k in keys]
            + [
                runs,
                text.percent(cell["mean_accuracy"]) + _pm(cell["std_accuracy"]),
                f"{text.percent(ci[0])}–{text.percent(ci[1])}" if ci else "",
                text.percent(cell["mean_train_accuracy"]),
                _number(cell["chi_1"]),
                _number(cell["xi_c"]),
                _number(cell["depth_over_xi_c"]),
                cell.get("phase") or "",
            ]
        )
    return columns, rows


def print_table(summary: dict, console=None) -> None:
    out = console or terminal.console()
    columns, rows = table_rows(summary)
    seeds = len(summary["seeds"])
    title = (
        f"{summary['name']}: accuracy by cell, % (mean over {seeds} seed"
        f"{'' if seeds == 1 else 's'}, {summary['budget']}; train: the first training images)"
    )
    terminal.print_table(
        out, title, columns, rows, optional=("95% CI", "L/ξ_c"), elsewhere="sweep.md"
    )
    if summary.get("lr_transfer"):
        out.print("")
        terminal.print_table(
            out,
            "learning-rate transfer: each width's best learning rate (lowest loss, seeds' mean)",
            *lr_transfer.table_rows(summary),
        )
        terminal.print_notes(out, lr_transfer.notes(summary))


def notes(summary: dict) -> list[str]:
    missing = summary["missing"]
    if not missing:
        return []
    return [
        f"{len(missing)} planned runs have not finished ({text.listing(missing)}): "
        "`initcmp sweep` with the same options trains them"
    ]


def to_markdown(summary: dict) -> str:
    text_ = terminal.markdown_table(*table_rows(summary))
    if summary.get("lr_transfer"):
        text_ += "\n" + terminal.markdown_table(*lr_transfer.table_rows(summary))
        text_ += "\n" + "".join(f"- {line}\n" for line in lr_transfer.notes(summary))
    return text_


def to_csv(summary: dict) -> str:
    """One row per cell: the grid's keys, then numbers as numbers (fractions)."""
    keys = list(summary["axes"])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys + CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for cell in summary["cells"]:
        low, high = cell["ci95_accuracy"] or (None, None)
        row = {k: cell.get(k) for k in CSV_FIELDS}
        writer.writerow({**cell["values"], **row, "ci95_low": low, "ci95_high": high})
    return buffer.getvalue()


def _pm(std) -> str:
    return "" if std is None else f" ± {100 * std:.2f}"


def _number(value) -> str:
    if value is None:
        return ""
    return "∞" if math.isinf(value) else f"{value:.3g}"
