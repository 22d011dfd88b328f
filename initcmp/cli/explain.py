"""The commands that say why an initializer wins, before any training: `inspect` (the
signal measured layer by layer) and `theory` (what mean-field theory predicts for the
same network). cli/main.py adds them to `initcmp`."""

from __future__ import annotations

import json

import click

from initcmp import api
from initcmp.cli.options import (
    config_options,
    fails_cleanly,
    init_option,
    json_option,
    plot_option,
    seed_option,
)
from initcmp.errors import OutputError


@click.command(short_help="Why an initializer wins, layer by layer.")
@init_option("Initializer; repeat to compare several", "init_names", multiple=True)
@config_options
@seed_option
@click.option(
    "--batch",
    type=int,
    help="Training images to measure on (default: train.batch_size, the run's own first batch).",
)
@json_option
@plot_option("Write activation and gradient std against depth to this PNG.")
@fails_cleanly
def inspect(init_names, config_path, overrides, seed, batch, as_json, plot_path):
    """Why an initializer wins, layer by layer.

    The untrained model on one batch, per layer (weight, activation and gradient std,
    dead or saturated units), and what that means in words.

    \b
    Examples:
      initcmp inspect --init glorot --init he --plot signal.png"""
    result = api.inspect(
        config_path, inits=list(init_names) or None, seed=seed, overrides=overrides, batch=batch
    )
    show(result, as_json, plot_path)


def show(result, as_json: bool, plot_path) -> None:
    """A result of inspect, theory or coord-check: its figure to `--plot`, then its JSON
    or its tables."""
    if plot_path:
        _plot(result, plot_path)
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
        return
    result.show()
    if plot_path:
        click.echo(f"wrote {plot_path}")


def _plot(result, path) -> None:
    """The result's figure at `path`, an error naming the flag the path came from."""
    try:
        result.plot(path)
    except OutputError as exc:
        raise OutputError(f"--plot: {exc}") from None


@click.command(short_help="What mean-field theory predicts.")
@init_option()
@config_options
@click.option(
    "--critical",
    is_flag=True,
    help="Also find the σ_w² on the critical line for the activation and init.bias_variance.",
)
@json_option
@plot_option("Draw the activation's phase diagram (the critical line, and ξ_c against σ_w²).")
@fails_cleanly
def theory(init, config_path, overrides, critical, as_json, plot_path):
    """What mean-field theory predicts for the configured network at initialization.

    The fixed point q* of the signal's length, χ₁ (ordered below 1, chaotic above), the
    correlation map's c* and χ_c, the depth scales ξ_c and ξ_q, and per layer the
    predicted activation std and gradient change (Poole et al. 2016; Schoenholz et al.
    2017). The first layer's q comes from the training images.

    \b
    Examples:
      initcmp theory --config deep_mlp --init glorot
      initcmp theory --set model.activation=tanh --set init.bias_variance=0.05 --critical
      initcmp theory --set model.activation=tanh --plot phase.png"""
    result = api.theory(config_path, init=init, overrides=overrides, critical=critical)
    show(result, as_json, plot_path)


COMMANDS = (inspect, theory)
