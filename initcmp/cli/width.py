"""`initcmp coord-check`: the coordinate check of Tensor Programs V across widths, with
theory's exponents beside the fitted slopes (analysis/width_theory.py); cli/main.py adds
it to `initcmp`. The learning-rate-transfer figure is `initcmp sweep`'s, for a grid over
`model.width` and `train.learning_rate` (report/lr_transfer.py)."""

from __future__ import annotations


import click

from initcmp import api
from initcmp.cli import explain
from initcmp.cli.options import config_options, fails_cleanly, json_option, plot_option
from initcmp.errors import ConfigError
from initcmp.inits.parametrizations import PARAMETRIZATIONS


@click.command("coord-check", short_help="Layer sizes against width, step by step.")
@config_options
@click.option(
    "--parametrization",
    "names",
    multiple=True,
    type=click.Choice(PARAMETRIZATIONS),
    help="Check this parametrization (sets `model.parametrization`); repeat to check "
    "several side by side (default: the config's).",
)
@click.option(
    "--widths",
    help="Comma-separated hidden widths (sets `coord_check.widths`; built-in default "
    "128,256,512,1024,2048).",
)
@click.option("--steps", type=int, help="Training steps T (sets `coord_check.steps`; default 3).")
@click.option(
    "--seeds", type=int, help="Use seeds 0..N-1 (sets `compare.seeds`; built-in default 3)."
)
@json_option
@plot_option(
    "Write the coordinate-check figure (a panel per step and parametrization) to this PNG."
)
@fails_cleanly
def coord_check(config_path, overrides, names, widths, steps, seeds, as_json, plot_path):
    """Layer sizes against width, step by step: the coordinate check.

    For each width, the network (its depth, init, parametrization, optimizer and learning
    rate) is trained for T steps on one fixed batch, for each seed; at every t = 0..T the
    mean |h| of every layer's output, logits included, is measured. Each layer's slope of
    log size against log width gets a verdict (stable, or growing or shrinking as
    width^s) and stands beside Tensor Programs' predicted exponent for its size at
    initialization and its first update.

    \b
    Examples:
      initcmp coord-check --config width_coord_check --plot coord.png
      initcmp coord-check --parametrization standard --parametrization mup \\
          --set model.base_width=128 --widths 128,512,2048 --json"""
    result = api.coord_check(
        config_path,
        parametrizations=names,
        widths=_widths(widths),
        steps=steps,
        seeds=seeds,
        overrides=overrides,
    )
    explain.show(result, as_json, plot_path)


def _widths(text: str | None) -> list[int] | None:
    """`--widths 128,256,512` as a list of whole numbers (their range: the config's check)."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"--widths must be whole numbers separated by commas, like 128,256,512, not {text!r}"
        ) from None


COMMANDS = (coord_check,)
