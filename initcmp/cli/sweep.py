"""`initcmp sweep`: a grid over any config keys times seeds (experiments/sweep.py), trained on the
engine `compare` uses; cli/main.py adds it to `initcmp`, and `report` calls `show` for a
config with a grid."""

from __future__ import annotations

import dataclasses
import json

import click

from initcmp.config import grid
from initcmp.cli.options import (
    DEFAULTS,
    compare_flags,
    config_options,
    executor_flags,
    dirs_options,
    epochs_option,
    executor_options,
    fails_cleanly,
    json_option,
    load_config,
    options,
    train_with_progress,
)


grid_options = options(
    click.option(
        "--grid",
        "grids",
        multiple=True,
        metavar="KEY=VALUES",
        help="A sweep axis: KEY=V1,V2 (any number of values, each YAML), or a range: "
        "KEY=START:STOP:STEP (STOP included), KEY=START:STOP (whole numbers, step 1) or "
        "KEY=START:STOP:*FACTOR (geometric, e.g. 1e-4:1e-1:*10); repeatable, and merged "
        "key by key into the config's `sweep.grid` (default: the config's grid; the "
        "built-in one has none).",
    ),
    click.option(
        "--steps",
        type=int,
        help="A budget in steps per run instead of epochs (sets `train.steps`; built-in "
        "default: none, epochs).",
    ),
)


@click.command(short_help="Accuracy over a grid of config values.")
@config_options
@click.option(
    "--seeds",
    type=int,
    help="Use seeds 0..N-1 (sets `compare.seeds`; built-in default "
    f"{len(DEFAULTS.compare.seeds)}).",
)
@epochs_option
@grid_options
@dirs_options
@click.option("--fresh", is_flag=True, help="Rerun every run from step 0.")
@click.option(
    "--dry-run", is_flag=True, help="List the runs and how they would train together; train none."
)
@click.option(
    "--yes",
    is_flag=True,
    help="Train a sweep of more than 1,000 runs (refused without it, before planning).",
)
@click.option(
    "--name",
    "sweep_name",
    help="The sweep's name: its folder LOG_DIR/<experiment>/sweeps/NAME/ and what "
    "`report --sweep NAME` takes (default: its grid's keys and a digest of its spec).",
)
@executor_options
@json_option
@fails_cleanly
def sweep(
    config_path,
    overrides,
    seeds,
    epochs,
    grids,
    steps,
    checkpoint_dir,
    log_dir,
    fresh,
    dry_run,
    yes,
    sweep_name,
    executor,
    address,
    as_json,
):
    """Train and map accuracy over a grid of config values x seeds.

    Every combination of the grid's values is a cell, each trained with every seed;
    each run is an ordinary run in LOG_DIR/<name>/<values>,<init>-s<seed>/, skipped when
    finished and resumed when interrupted. Prints a table and writes sweep.json, .csv,
    .md and .png (a line for one axis, heatmaps for two) and its spec in the sweep's own
    folder, LOG_DIR/<name>/sweeps/<sweep>/, which no other sweep writes to.

    \b
    Examples:
      initcmp sweep --config he_depth --dry-run
      initcmp sweep --config edge_of_chaos
      initcmp sweep --grid init.name=glorot,he --grid model.depth=2:10:4 --steps 200"""
    cfg = _load(config_path, overrides, grids, seeds, epochs, steps, executor, address)
    from initcmp.experiments import sweep as sweep_mod

    need = sweep_mod.check_size(cfg, confirmed=yes)  # before any cell is planned
    if not as_json:
        click.echo(f"{cfg.name}: {sweep_mod.size_words(need)}")
    if dry_run:
        _dry_run(cfg, checkpoint_dir, log_dir, as_json, sweep_name, need)
        return
    sweep_mod.save_spec(cfg, log_dir, sweep_name)  # before training: report works at once
    train_with_progress(sweep_mod.run, cfg, checkpoint_dir, log_dir, fresh)
    show(cfg, checkpoint_dir, log_dir, as_json, sweep_name)


def _load(config_path, overrides, grids, seeds, epochs, steps, executor, address):
    """The config, the flags applied in the order of options.load_config, each
    `--grid KEY=...` as `--set sweep.grid.KEY=...` before the `--set`s."""
    flags = {
        **compare_flags(None, seeds, epochs),
        "--steps": steps,
        **executor_flags(executor, address),
    }
    axes = [grid.from_flag(item) for item in grids]
    return load_config(config_path, flags, overrides, axes)


def show(cfg, checkpoint_dir, log_dir, as_json: bool, sweep_name: str | None = None) -> None:
    """A sweep's table and files, from its runs' records, in its own folder (also
    `initcmp report`)."""
    from initcmp.experiments import sweep as sweep_mod
    from initcmp.report import render_sweep

    summary = sweep_mod.summarise(cfg, checkpoint_dir, log_dir)
    sweep_mod.save_spec(cfg, log_dir, sweep_name)
    folder = sweep_mod.folder(cfg, log_dir, sweep_name)
    files = render_sweep.write_files(summary, folder)
    if as_json:
        click.echo(json.dumps(render_sweep.as_json(summary)))
        click.echo("wrote " + ", ".join(str(f) for f in files), err=True)
        return
    render_sweep.print_table(summary)
    for line in render_sweep.notes(summary):
        click.echo(line)
    click.echo("wrote " + ", ".join(str(f) for f in files))
    again = f"initcmp report --sweep {folder.name}"
    again += "" if cfg.name == DEFAULTS.name else f" --set name={cfg.name}"
    click.echo(f"sweep {folder.name}: `{again}` shows it again")


def _dry_run(cfg, checkpoint_dir, log_dir, as_json: bool, sweep_name=None, need=None) -> None:
    """The runs (finished, partial or new) and the stacks the rest would train in."""
    from initcmp.store import records
    from initcmp.experiments import launch
    from initcmp.experiments import sweep as sweep_mod
    from initcmp.store.records import RunPaths

    cells = sweep_mod.plan(cfg)
    rows = []
    for cell in cells:
        for run in cell.runs:
            paths = RunPaths.of(run, checkpoint_dir, log_dir)
            done = records.finished(run, paths)
            step = launch.saved_step(run, checkpoint_dir, log_dir)
            status = "finished" if done else f"at step {step}" if step else "new"
            rows.append(
                {"run": run.run_name, "values": cell.values, "seed": run.seed, "status": status}
            )
    status = {row["run"]: row["status"] for row in rows}
    todo = [run for run in sweep_mod.runs(cells) if status[run.run_name] != "finished"]
    stacks = launch.stacks(todo, cfg.compare.fuse, checkpoint_dir, log_dir)
    if as_json:
        named = sweep_mod.name(cfg, sweep_name)
        stacked = [[r.run_name for r in s] for s in stacks]
        estimate = dataclasses.asdict(need) | {"seconds": need.seconds()} if need else None
        out = {"sweep": named, "runs": rows, "stacks": stacked, "estimate": estimate}
        click.echo(json.dumps(out))
        return
    finished = sum(r["status"] == "finished" for r in rows)
    click.echo(
        f"{cfg.name}: {len(rows)} runs ({sweep_mod.shape(cfg)}), {cfg.train.budget} each, "
        f"in {log_dir}/{cfg.name}/; {finished} finished, {len(todo)} to train; "
        f"sweep {sweep_mod.name(cfg, sweep_name)}"
    )
    for row in rows:
        click.echo(f"  {row['run']}: {row['status']}")
    together = "together in one compiled step" if cfg.compare.fuse else "one by one"
    if not stacks:
        click.echo("nothing left to train")
        return
    click.echo(f"{len(stacks)} group{'' if len(stacks) == 1 else 's'} would train ({together}):")
    for i, stack in enumerate(stacks, 1):
        click.echo(
            f"  {i}: {len(stack)} run{'' if len(stack) == 1 else 's'}: "
            + ", ".join(r.run_name for r in stack)
        )


COMMANDS = (sweep,)
