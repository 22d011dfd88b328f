"""The command line: parse, call the library, turn its errors into one line and an exit code.

Nothing here trains or checks anything itself; TensorFlow is imported only inside the
commands that need it, so `--help`, `inits` and config errors are instant.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading

import click

from initcmp import api
from initcmp.cli import runs
from initcmp.cli import sweep
from initcmp.cli import explain
from initcmp.cli import width
from initcmp.cli.options import (
    checkpoint_dir_option,
    compare_options,
    config_options,
    dirs_options,
    epochs_option,
    executor_options,
    fails_cleanly,
    init_option,
    json_option,
    seed_option,
    run_option,
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    commands=sweep.COMMANDS + runs.COMMANDS + explain.COMMANDS + width.COMMANDS,
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="initcmp")
def main(debug: bool) -> None:
    """How much does the weight initializer matter? Train, evaluate and compare MLPs on MNIST.

    \b
    Examples (more in initcmp COMMAND --help):
      initcmp compare                        # random, glorot, he x 3 seeds
      initcmp inspect --init glorot --init he"""


def entry() -> None:
    """The `initcmp` command (and `python -m initcmp`): `main`, then `_quick_exit`."""
    try:
        main()
    except SystemExit as done:
        _quick_exit(done.code)
        raise


def _quick_exit(code) -> None:
    """End a process that loaded TensorFlow without Python's teardown, which spends about
    a second freeing TensorFlow's modules and objects one by one.
    Everything a command writes is closed or flushed before it returns; this flushes the
    TensorBoard writers and stdio once more, then runs the atexit handlers. Python's own
    exit is kept while another non-daemon thread runs (it waits for it) and when stdio
    cannot be flushed (a closed pipe: it reports it)."""
    if "tensorflow" not in sys.modules or not (code is None or isinstance(code, int)):
        return
    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    from initcmp.engine import tensorboard

    tensorboard.flush_all()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: Python's own exit reports it
        return
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError):  # what the handlers printed
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code or 0)


@main.command()
@init_option("Initializer, one of `initcmp inits`")
@config_options
@seed_option
@epochs_option
@dirs_options
@click.option("--fresh", is_flag=True, help="Delete the run's checkpoints and logs; start over.")
@json_option
@fails_cleanly
def train(init, config_path, seed, overrides, epochs, checkpoint_dir, log_dir, fresh, as_json):
    """Train one run (rerun to resume it).

    \b
    Examples:
      initcmp train --init glorot                # the same again resumes it
      initcmp train --init he --seed 1 --epochs 3
      initcmp train --config deep_mlp --init lsuv"""
    result = api.train(
        config_path,
        init=init,
        seed=seed,
        epochs=epochs,
        overrides=overrides,
        checkpoint_dir=checkpoint_dir,
        log_dir=log_dir,
        fresh=fresh,
        progress=True,
    )
    _emit(result, as_json)


@main.command("eval")
@init_option("Initializer of the run to evaluate")
@run_option
@config_options
@seed_option
@checkpoint_dir_option
@json_option
@fails_cleanly
def eval_(init, run_name, config_path, seed, overrides, checkpoint_dir, as_json):
    """Test accuracy of a run's newest checkpoint.

    \b
    Examples:
      initcmp eval --init glorot --seed 2 --json
      initcmp eval --run 'depth=2,he-s0@3f9a1c2e'"""
    result = api.evaluate(
        config_path,
        init=init,
        run=run_name,
        seed=seed,
        overrides=overrides,
        checkpoint_dir=checkpoint_dir,
    )
    for line in result.warnings:
        click.echo(line, err=True)
    _emit(result, as_json)


@main.command()
@config_options
@compare_options
@dirs_options
@click.option("--fresh", is_flag=True, help="Rerun every run from step 0.")
@executor_options
@json_option
@fails_cleanly
def compare(
    config_path,
    overrides,
    init_names,
    seeds,
    epochs,
    checkpoint_dir,
    log_dir,
    fresh,
    executor,
    address,
    as_json,
):
    """Train and compare initializers over seeds.

    A table with statistics, and compare.json, .csv, .md and .png in LOG_DIR/<name>/.
    Finished runs are read back, interrupted ones resume: rerunning is cheap.

    \b
    Examples:
      initcmp compare --inits glorot,he,lsuv --seeds 5
      initcmp compare --config deep_mlp --executor ray"""
    result = api.compare(
        config_path,
        inits=init_names,
        seeds=seeds,
        epochs=epochs,
        overrides=overrides,
        checkpoint_dir=checkpoint_dir,
        log_dir=log_dir,
        fresh=fresh,
        executor=executor,
        address=address,
        progress=True,
    )
    _report(result, as_json)


@main.command(short_help="A comparison's or a sweep's table again, no training.")
@config_options
@compare_options
@sweep.grid_options
@click.option(
    "--sweep",
    "sweep_name",
    help="A sweep of the experiment, by name (`initcmp runs` lists them): rebuilt from "
    "its saved spec, no other flag needed (default: none; a comparison, or the sweep of "
    "the config's grid and --grid).",
)
@dirs_options
@json_option
@fails_cleanly
def report(
    config_path,
    overrides,
    init_names,
    seeds,
    epochs,
    grids,
    steps,
    sweep_name,
    checkpoint_dir,
    log_dir,
    as_json,
):
    """A comparison's table again, or a sweep's (by name, or a config with a grid, or
    --grid), no training.

    \b
    Examples:
      initcmp report --config deep_mlp --json
      initcmp report --sweep depth-1f3a9c2e"""
    result = api.load(
        config_path,
        sweep=sweep_name,
        inits=init_names,
        seeds=seeds,
        epochs=epochs,
        grid=grids,
        steps=steps,
        overrides=overrides,
        checkpoint_dir=checkpoint_dir,
        log_dir=log_dir,
        write_files=True,
    )
    if isinstance(result, api.Sweep):
        sweep.show(result, as_json)
    else:
        _report(result, as_json)


def _report(result: api.Comparison, as_json: bool) -> None:
    """Print a comparison, and the files it wrote (or why it left them as they were)."""
    if as_json:
        click.echo(json.dumps(result.summary))
    else:
        result.show()
    if result.kept or not as_json:  # with --json, stdout is the JSON alone
        click.echo(result.kept or "wrote " + ", ".join(str(f) for f in result.files), err=as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout.")
def inits(as_json):
    """List the initializers and their formulas.

    \b
    Examples:
      initcmp inits --json"""
    from initcmp.inits import registry

    rows = [
        {
            "name": s.name,
            "formula": s.formula,
            "reference": s.reference,
            "params": registry.default_params(s.name),
            "aliases": list(s.aliases),
        }
        for s in registry.REGISTRY.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from initcmp.report import render_compare

    render_compare.print_initializers(rows)


def _emit(result: api.RunResult, as_json: bool) -> None:
    click.echo(json.dumps(result.summary) if as_json else result.line())


if __name__ == "__main__":
    main()
