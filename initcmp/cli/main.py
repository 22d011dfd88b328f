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

from initcmp.cli import runs
from initcmp.cli import sweep
from initcmp.cli import explain
from initcmp.cli import width
from initcmp.config import grid, resolve
from initcmp.cli.options import (
    checkpoint_dir_option,
    compare_flags,
    executor_flags,
    compare_options,
    config_options,
    dirs_options,
    epochs_option,
    executor_options,
    fails_cleanly,
    init_option,
    json_option,
    overrides_of,
    load_config,
    seed_option,
    train_with_progress,
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
    cfg = load_config(config_path, {"--init": init, "--seed": seed, "--epochs": epochs}, overrides)
    from initcmp.data import sources
    from initcmp.engine import train as train_mod
    from initcmp.report.progress import ConsoleReporter

    dataset = sources.load(cfg.data)
    with ConsoleReporter() as reporter:
        result = train_mod.run(
            cfg,
            dataset,
            checkpoint_root=checkpoint_dir,
            log_root=log_dir,
            fresh=fresh,
            reporter=reporter,
        )
    _emit(cfg, result, as_json)


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
    cfg = load_config(config_path, {"--init": init, "--seed": seed}, overrides)
    if run_name is not None:  # the run in that folder, as it was trained
        from initcmp.store import inventory

        cfg = inventory.by_folder(cfg.name, run_name, checkpoint_dir, "logs")
    from initcmp.data import sources
    from initcmp.engine import evaluate

    dataset = sources.load(cfg.data)
    result = evaluate.evaluate_run(cfg, dataset, checkpoint_root=checkpoint_dir)
    for line in result["warnings"]:
        click.echo(line, err=True)
    _emit(cfg, result, as_json)


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
    flags = {**compare_flags(init_names, seeds, epochs), **executor_flags(executor, address)}
    cfg = load_config(config_path, flags, overrides)
    from initcmp.experiments import compare as compare_mod

    train_with_progress(compare_mod.run, cfg, checkpoint_dir, log_dir, fresh)
    outcome = compare_mod.summarise(cfg, checkpoint_dir, log_dir)
    _report(outcome, compare_mod.experiment_folder(cfg, log_dir), as_json, replace=True)


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
    flags = {**compare_flags(init_names, seeds, epochs), "--steps": steps}
    given = overrides_of(flags, overrides, [grid.from_flag(g) for g in grids])
    cfg = resolve.load(config_path, given)
    if sweep_name is not None:  # a saved sweep: its spec says everything
        from initcmp.experiments import sweep as sweep_mod

        saved = sweep_mod.load(sweep_name, cfg.name, log_dir)
        sweep.show(saved, checkpoint_dir, log_dir, as_json, sweep_name)
        return
    if cfg.sweep.grid:  # a sweep's config: its cells again, from their records
        sweep.show(cfg, checkpoint_dir, log_dir, as_json)
        return
    from initcmp.experiments import compare as compare_mod
    from initcmp.experiments import results

    # Only what this command line asks picks runs; the rest comes from their records.
    selection = results.Selection.asked(cfg, {override.key for override in given})
    outcome = results.report(cfg.name, selection, checkpoint_dir, log_dir)
    _report(outcome, compare_mod.experiment_folder(cfg, log_dir), as_json, replace=False)


def _report(outcome, folder, as_json: bool, replace: bool) -> None:
    """Print a comparison and write its files in `folder`; unless `replace` (a compare
    writing its own plan), files that cover runs this one leaves out are kept."""
    from initcmp.report import render_compare as report_mod

    kept = None if replace else report_mod.kept_because(outcome.summary, folder)
    files = [] if kept else report_mod.write_files(outcome.summary, outcome.records, folder)
    if as_json:
        click.echo(json.dumps(outcome.summary))
    else:
        report_mod.print_tables(outcome.summary)
        for line in outcome.notes():
            click.echo(line)
    if kept or not as_json:  # with --json, stdout is the JSON alone
        click.echo(kept or "wrote " + ", ".join(str(f) for f in files), err=as_json)


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


def _emit(cfg, result: dict, as_json: bool) -> None:
    click.echo(json.dumps(result) if as_json else _result_line(cfg.run_name, result))


def _result_line(run: str, r: dict) -> str:
    if r.get("diverged"):
        return f"{run}: diverged at step {r['diverged_step']} (loss became NaN or inf)"
    accuracy = "n/a" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2%}"
    loss = "n/a" if r["test_loss"] is None else f"{r['test_loss']:.4f}"
    return (
        f"{run}: test accuracy {accuracy}, test loss {loss} "
        f"(step {r['step']}, epoch {r['epoch']:g}) in {r['checkpoint_dir']}"
    )


if __name__ == "__main__":
    main()
