"""Tables on the terminal, fitted to its width with every cell whole: a table prints as
it is if it fits, else without its least needed columns (named under it), else as one
block of lines per row. Nothing is ever cut with "…", and lines break only between
words. What the tables hold is report/render_compare.py's and analysis/diagnose.py's business."""

from __future__ import annotations

from rich.cells import cell_len


def console():
    """A rich console for stdout; into a file or pipe, 140 columns wide, so a table
    keeps every column (a terminal's own width otherwise)."""
    from rich.console import Console

    out = Console()
    return out if out.is_terminal else Console(width=140)


def print_table(
    out,
    title: str,
    columns: list[str],
    rows: list[list[str]],
    *,
    optional: tuple[str, ...] = (),
    wrap: tuple[str, ...] = (),
    elsewhere: str = "",
) -> None:
    """`rows` under `columns` (a header may have two lines), at `out`'s width. The
    columns in `optional` are left out, in that order, only as far as needed to fit;
    those in `wrap` may break between words. `elsewhere` says where the left-out
    columns can be read."""
    for n in range(len(optional) + 1):
        keep = [i for i, c in enumerate(columns) if c not in optional[:n]]
        shown = [columns[i] for i in keep]
        cells = [[row[i] for i in keep] for row in rows]
        if _width(shown, cells, wrap) <= out.width:
            out.print(title, highlight=False)  # wrapped at the terminal's width, not the table's
            out.print(rich_table(shown, cells, wrap))
            if n:
                left_out = ", ".join(c.replace("\n", " ") for c in optional[:n])
                where = f"; {elsewhere}" if elsewhere else ""
                out.print(f"(not shown at {out.width} columns: {left_out}{where})\n")
            return
    _print_blocks(out, title, columns, rows)


def _width(columns: list[str], rows: list[list[str]], wrap: tuple[str, ...]) -> int:
    """The narrowest width `rich_table` prints these cells in without cutting one: each
    column as wide as its widest line (its longest word if it may wrap), and 2 columns
    of padding per column (the box's edges and the gaps between columns)."""
    total = 0
    for i, column in enumerate(columns):
        cells = [column, *(row[i] for row in rows)]
        pieces = [p for c in cells for p in (c.split() if column in wrap else c.split("\n"))]
        total += max(map(cell_len, pieces), default=0) + 2
    return total


def rich_table(columns: list[str], rows: list[list[str]], wrap=()):
    """A compact table: the names (the first column) and any text that may wrap on the
    left, numbers on the right, two spaces between columns."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for i, column in enumerate(columns):
        table.add_column(
            column,
            justify="left" if i == 0 or column in wrap else "right",
            no_wrap=column not in wrap,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*row)
    return table


def _print_blocks(out, title: str, columns: list[str], rows: list[list[str]]) -> None:
    """Too narrow for any table: each row as its name, then one line per value."""
    out.print(title, highlight=False)
    for row in rows:
        out.print(row[0], style="bold", highlight=False)
        for column, cell in zip(columns[1:], row[1:]):
            if cell:
                out.print(f"  {column.replace(chr(10), ' ')}: {cell}", highlight=False)


def print_notes(out, lines: list[str], bullet: str = "-") -> None:
    """Sentences under a table, each wrapped between words with a hanging indent."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for line in lines:
        grid.add_row(f"  {bullet}", line)
    out.print(grid, highlight=False)


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    """The same table as Markdown (compare.md, sweep.md)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
