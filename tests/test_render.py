"""What the terminal shows (report/render_compare.py's tables, report/terminal.py's fitting,
analysis/diagnose.py's words), rendered into rich consoles of known width: every name and number
whole at 80 and 120 columns and piped, no "…", no word broken; and `inspect`'s verdict on the
signal the same at any depth. Hand-made inputs: no training."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from initcmp.analysis import diagnose
from initcmp.report import render_compare
from initcmp.report import stats
from helpers import run_cli


def rec(init, seed, acc, diverged=False, seconds=2.0):
    return {
        "init": init,
        "seed": seed,
        "test_accuracy": acc,
        "test_loss": 0.1234,
        "step": 469,
        "epochs": 1,
        "seconds": seconds,
        "diverged": diverged,
        "diverged_step": 12 if diverged else None,
        "curve": [(469, acc)],
    }


def summary(notebook=True):
    """A comparison as wide as they come: long names, diverged and at-chance runs, the
    notebook column."""
    records = (
        [rec("random", s, a, diverged=s == 0) for s, a in enumerate([0.1, 0.12, 0.857])]
        + [rec("glorot", s, a) for s, a in enumerate([0.961, 0.960, 0.962])]
        + [rec("he", s, a) for s, a in enumerate([0.962, 0.963, 0.961])]
        + [rec("truncated_normal", s, a) for s, a in enumerate([0.90, 0.95, 0.1])]
        + [rec("variance_scaling", s, a, seconds=12.25) for s, a in enumerate([0.9, 0.9, 0.91])]
    )
    return stats.summarise(records, notebook=stats.NOTEBOOK if notebook else {})


def rendered(print_fn, *args, width):
    console = Console(width=width, record=True, color_system=None)
    print_fn(*args, console=console)
    return console.export_text()


def words(text: str) -> set[str]:
    return set(text.split())


def assert_whole(text: str, width: int, cells) -> None:
    """Nothing cut, no line past the width, and every word of every cell in the text."""
    assert "…" not in text
    assert max(map(len, text.splitlines())) <= width
    missing = {w for cell in cells for w in cell.split()} - words(text)
    assert not missing, f"{missing} cut or missing at {width} columns:\n{text}"


@pytest.mark.parametrize("width", [80, 120, 140])
@pytest.mark.parametrize("notebook", [True, False])
def test_comparison_tables_keep_every_cell_whole(width, notebook):
    s = summary(notebook)
    text = rendered(render_compare.print_tables, s, width=width)
    columns, table = render_compare._columns(s), text.split("not shown")[0]
    keep = [i for i, c in enumerate(columns) if c in table and c != "epochs"]
    assert_whole(text, width, [row[i] for row in render_compare.table_rows(s) for i in keep])
    assert_whole(text, width, [cell for row in render_compare.paired_rows(s) for cell in row[2:]])
    # the numbers a user compares are always there, and the initializers' names
    for name in ("acc % ± std", "95% CI", "truncated_normal", "variance_scaling"):
        assert name in text
    assert "1 epoch" in text.splitlines()[0]


def test_at_120_columns_nothing_is_left_out_and_at_80_what_is_left_out_is_named():
    s = summary()
    wide = rendered(render_compare.print_tables, s, width=120)
    assert all(c in wide for c in ("s/run", "min–max", "loss")) and "not shown" not in wide
    narrow = rendered(render_compare.print_tables, s, width=80)
    note = next(line for line in narrow.splitlines() if "not shown" in line)
    assert "compare.md" in note
    assert all(c in note for c in ("s/run", "min–max", "loss") if c not in narrow.replace(note, ""))


@pytest.mark.parametrize("width", range(20, 161, 7))
def test_any_width_prints_every_value_whole(width):
    s = summary()
    text = rendered(render_compare.print_tables, s, width=width)
    assert "…" not in text
    for row in render_compare.table_rows(s):
        assert row[0] in words(text)
        assert all(w in words(text) for w in row[2].split())  # the mean and its std


def inspection(hidden: int, activation="relu") -> dict:
    layers = [
        {
            "name": f"hidden_{i}" if i < hidden else "logits",
            "fan_in": 784 if i == 0 else 256,
            "fan_out": 256 if i < hidden else 10,
            "weight_std": 0.0505,
            "expected_weight_std": 0.0505,
            "activation_mean": -0.000123,
            "activation_std": 0.457 * 0.7**i,
            "dead_fraction": 0.02 if i < hidden else None,
            "saturated_fraction": None,
            "gradient_std": 1.23e-05,
        }
        for i in range(hidden + 1)
    ]
    return {
        "init": "glorot",
        "params": {"gain": 1.0},
        "seed": 0,
        "activation": activation,
        "hidden": [256] * hidden,
        "batch": 128,
        "loss": 2.458,
        "layers": layers,
        "findings": diagnose.findings(layers, activation),
    }


@pytest.mark.parametrize("width", [80, 120])
def test_inspect_table_names_every_layer_whole(width):
    result = inspection(20)
    text = rendered(render_compare.print_inspection, [result], width=width)
    assert_whole(text, width, [c for row in diagnose.table_rows(result) for c in row])
    names = [line.split()[0] for line in text.splitlines() if re.match(r"^ ?hidden_\d+ ", line)]
    assert names == [f"hidden_{i}" for i in range(20)]
    assert "not shown" not in text  # at 80 columns every column fits
    for finding in result["findings"]:
        assert words(finding) <= words(text)


def test_inspect_fraction_column_says_what_it_counts():
    assert "dead %" in diagnose.columns(inspection(2))
    assert "sat %" in diagnose.columns(inspection(2, "tanh"))
    linear = inspection(2, "linear")
    assert len(diagnose.columns(linear)) == len(diagnose.table_rows(linear)[0]) == 6


def test_inits_are_whole_at_80_columns_and_piped(monkeypatch):
    from initcmp.inits import registry

    rows = [
        {
            "name": s.name,
            "formula": s.formula,
            "reference": s.reference,
            "params": registry.default_params(s.name),
        }
        for s in registry.REGISTRY.values()
    ]
    cells = [r[k] for r in rows for k in ("name", "formula", "reference")]
    cells += [", ".join(f"{k}={v}" for k, v in r["params"].items()) for r in rows]
    text = rendered(render_compare.print_initializers, rows, width=80)
    assert_whole(text, 80, cells)
    piped = run_cli("inits").stdout
    assert words(" ".join(cells)) <= words(piped)
    assert "random_normal_initializer)" in piped


# --- inspect's verdict on the signal -----------------------------------------------------


def signal_finding(per: float, hidden: int) -> str:
    layers = [
        {
            "name": f"hidden_{i}" if i < hidden else "logits",
            "weight_std": 1.0,
            "expected_weight_std": None,
            "activation_std": 0.4 * per**i if i < hidden else 1.0,
            "gradient_std": 1.0,
            "dead_fraction": None,
            "saturated_fraction": None,
        }
        for i in range(hidden + 1)
    ]
    return diagnose.findings(layers, "relu")[0]


def test_a_shrinking_factor_is_not_called_steady_on_a_shallow_network():
    shallow = signal_finding(0.693, 2)
    assert "x0.693 per layer" in shallow and "keeps its size" not in shallow
    assert "halves about every 2 layers" in shallow
    assert "would vanish by 20 layers (x0.000942)" in shallow  # 0.693 ** 19
    assert "though not across these 2" in shallow
    deep = signal_finding(0.699, 20)
    assert "halves about every 2 layers and vanishes with depth" in deep


def test_the_verdict_follows_the_per_layer_factor_as_the_readme_says():
    # docs/science/inspect.md, 20 ReLU layers: He x0.989 keeps its size, Glorot x0.699
    # vanishes, N(0, 1) x11.4 explodes; the same factors give the same verdict on 3 layers.
    for hidden in (3, 20):
        assert "keeps its size" in signal_finding(0.989, hidden)
        assert "vanish" in signal_finding(0.699, hidden)
        assert "explode" in signal_finding(11.4, hidden)
    assert "(x0.81 at 20 layers)" in signal_finding(0.989, 3)  # 0.989 ** 19
    assert "doubles about every 2 layers" in signal_finding(1.4, 5)
    assert "would explode by 20 layers" in signal_finding(1.4, 5)


# --- a sweep's figure: axes a reader can trust -------------------------------------------


def test_a_sweep_axis_spanning_more_than_20x_is_logarithmic():
    from initcmp.report import sweep_plots

    assert sweep_plots._logarithmic([1e-4, 1e-3, 1e-2, 1e-1])
    assert not sweep_plots._logarithmic([1, 2, 4, 8])  # a factor of 8: linear
    assert not sweep_plots._logarithmic([0, 1e-3, 1])  # zero has no logarithm
    assert not sweep_plots._logarithmic(["glorot", "he"])


def test_a_heatmap_has_a_cell_per_grid_value_ticked_and_labelled():
    from initcmp.report import sweep_plots
    from initcmp.report.plots import pyplot

    depths, scales = [2, 4], [0.5, 1.0, 2.0]
    cells = [
        {"values": {"model.depth": d, "init.scale": s}, "mean_accuracy": 0.1 * i}
        for i, (d, s) in enumerate((d, s) for d in depths for s in scales)
    ]
    summary = {"axes": {"model.depth": depths, "init.scale": scales}, "cells": cells}
    fig, ax = pyplot().subplots()
    sweep_plots._heatmap(ax, summary, "init.scale", "model.depth", {}, "accuracy")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2", "4"]
    assert sorted(t.get_text() for t in ax.texts) == ["0", "10", "20", "30", "40", "50"]
    assert list(ax.get_xticks()) == [0, 1, 2]  # cells centred on their values' ticks


@pytest.mark.parametrize("per, word", [(1.08, "grows slowly"), (0.934, "shrinks slowly")])
def test_a_signal_changing_4x_over_20_layers_is_not_said_to_keep_its_size(per, word):
    """tanh, 5 layers: He's x1.08 and Glorot's x0.934 per layer are x4.4 and x0.28 over
    20; the verdict says so instead of "keeps its size" beside those numbers."""
    from initcmp.analysis import diagnose

    hidden = [{"name": f"hidden_{i}", "activation_std": 0.4 * per**i} for i in range(5)]
    line = diagnose._signal(hidden)
    assert word in line and "keeps its size" not in line and "across 20 layers" in line
    steady = [{"name": f"hidden_{i}", "activation_std": 0.4 * 1.02**i} for i in range(5)]
    assert "keeps its size" in diagnose._signal(steady)
