"""`initcmp sweep`: a grid over any config keys times seeds (`initcmp.api.sweep`, over
experiments/sweep.py), trained on the engine `compare` uses; cli/main.py adds it to
`initcmp`, and `report` calls `show` for a sweep."""

from __future__ import annotations

import dataclasses
import json

import click

from initcmp import api
from initcmp.cli.options import (
    DEFAULTS,
    config_options,
    dirs_options,
    epochs_option,
    executor_options,
    fails_cleanly,
    json_option,
    options,
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
    if dry_run:
        flags = dict(seeds=seeds, epochs=epochs, steps=steps, executor=executor, address=address)
        cfg = api.make_config(config_path, grid=grids, overrides=overrides, **flags)
        from initcmp.experiments import sweep as sweep_mod

        need = sweep_mod.check_size(cfg, confirmed=yes)  # before any cell is planned
        if not as_json:
            click.echo(f"{cfg.name}: {sweep_mod.size_words(need)}")
        _dry_run(cfg, checkpoint_dir, log_dir, as_json, sweep_name, need)
        return
    result = api.sweep(
        config_path,
        grid=grids,
        seeds=seeds,
        epochs=epochs,
        steps=steps,
        overrides=overrides,
        checkpoint_dir=checkpoint_dir,
        log_dir=log_dir,
        fresh=fresh,
        yes=yes,
        name=sweep_name,
        executor=executor,
        address=address,
        progress=True,
    )
    show(result, as_json)


def show(result: api.Sweep, as_json: bool) -> None:
    """A sweep's table, and the files it wrote in its own folder (also `initcmp report`)."""
    files = "wrote " + ", ".join(str(f) for f in result.files)
    if as_json:
        click.echo(json.dumps(result.summary))
        click.echo(files, err=True)
        return
    result.show()
    click.echo(files)
    again = f"initcmp report --sweep {result.name}"
    again += "" if result.config.name == DEFAULTS.name else f" --set name={result.config.name}"
    click.echo(f"sweep {result.name}: `{again}` shows it again")


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
