"""The commands that look at the runs on disk and at the config without training:
`runs`, `config` and `rm` (cli/main.py adds them to `initcmp`). Each parses, calls the
library (store/inventory.py, config/schema.py) and prints; none imports TensorFlow."""

from __future__ import annotations

import json
import sys

import click

from initcmp import api
from initcmp.cli.sweep import grid_options
from initcmp.config import schema as config_mod
from initcmp.store import inventory
from initcmp.cli.options import (
    DEFAULTS,
    compare_options,
    config_options,
    dirs_options,
    fails_cleanly,
    json_option,
    load_config,
    seed_option,
    run_option,
)
from initcmp.errors import ConfigError


@click.command(short_help="An experiment's runs on disk and their status.")
@config_options
@dirs_options
@json_option
@fails_cleanly
def runs(config_path, overrides, checkpoint_dir, log_dir, as_json):
    """List an experiment's runs on disk: finished (with its accuracy), partial (at step N
    of M), diverged, empty, and the process training one now. Reads files only.

    \b
    Examples:
      initcmp runs                       # the default experiment, mnist_mlp
      initcmp runs --config deep_mlp     # or --set name=deep_mlp"""
    from initcmp.experiments import sweep as sweep_mod

    cfg = load_config(config_path, {}, overrides)
    found = inventory.runs(cfg.name, checkpoint_dir, log_dir)
    sweeps = [
        {"name": name, **sweep_mod.status(spec, checkpoint_dir, log_dir)}
        for name, spec in sweep_mod.saved(cfg.name, log_dir)
    ]
    if as_json:
        click.echo(json.dumps({"experiment": cfg.name, "runs": found, "sweeps": sweeps}))
    elif found:
        click.echo(f"experiment {cfg.name}: {len(found)} runs")
        click.echo("\n".join(inventory.status_lines(found)))
        if sweeps:
            click.echo(f"sweeps ({len(sweeps)}; `initcmp report --sweep NAME` shows one):")
        for s in sweeps:
            click.echo(
                f"  {s['name']}  {s['finished']} of {s['runs']} runs finished "
                f"({s['shape']}, {s['budget']} each)"
            )
    else:
        others = ", ".join(inventory.experiments(checkpoint_dir, log_dir))
        click.echo(
            f"no runs of experiment {cfg.name!r} in {checkpoint_dir} or {log_dir}"
            + (f"; experiments there: {others} (--set name=NAME)" if others else "")
        )


@click.command("config", short_help="Print the resolved config, as YAML.")
@click.option(
    "--init", help=f"Initializer (sets `init.name`; built-in default {DEFAULTS.init.name})."
)
@config_options
@seed_option
@compare_options
@grid_options
@json_option
@fails_cleanly
def config_(init, config_path, overrides, seed, init_names, seeds, epochs, grids, steps, as_json):
    """Print the resolved config as YAML: what a command given the same flags would use
    (built-in defaults < --config < flags < --set), every key explicit.

    \b
    Examples:
      initcmp config --config deep_mlp --init xavier
      initcmp config --set train.epochs=3 > mine.yaml   # then --config mine.yaml
      initcmp config --grid model.depth=2:10 --grid train.learning_rate=1e-4:1e-1:*10"""
    cfg = api.make_config(
        config_path,
        init=init,
        seed=seed,
        inits=init_names,
        seeds=seeds,
        epochs=epochs,
        steps=steps,
        grid=grids,
        overrides=overrides,
    )
    if as_json:
        click.echo(json.dumps(config_mod.to_dict(cfg)))
        return
    click.echo(config_mod.dump_yaml(cfg), nl=False)
    if cfg.sweep.grid:  # the sweep it plans, as a YAML comment: the output stays a config
        from initcmp.experiments import sweep as sweep_mod

        cells, runs = sweep_mod.size(cfg)
        click.echo(f"# the sweep: {sweep_mod.shape(cfg)} = {cells:,} cells, {runs:,} runs")


@click.command(short_help="Delete one run: its checkpoints and logs.")
@click.option("--init", help="Initializer of the run to delete (required unless --run).")
@run_option
@config_options
@seed_option
@dirs_options
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@fails_cleanly
def rm(init, run_name, config_path, overrides, seed, checkpoint_dir, log_dir, yes):
    """Delete one run: its checkpoint and log folders. Refused while a process trains it;
    asks first unless --yes. Training it again starts from step 0.

    \b
    Examples:
      initcmp rm --init glorot --seed 1
      initcmp rm --config deep_mlp --init he --seed 2 --yes
      initcmp rm --run 'depth=2,he-s0@3f9a1c2e' --yes"""
    if init is None and run_name is None:
        raise ConfigError(
            "rm needs --init NAME (and --seed N, default 0), or --run FOLDER: the run to delete"
        )
    cfg = load_config(config_path, {"--init": init, "--seed": seed}, overrides)
    if run_name is not None:
        cfg = inventory.by_folder(cfg.name, run_name, checkpoint_dir, log_dir)
    run = inventory.find(cfg, checkpoint_dir, log_dir)
    click.echo(f"{cfg.name}: {inventory.status_lines([run])[0]}", err=True)
    if not yes and not _confirm(f"delete {run['checkpoint_dir']} and {run['log_dir']}?"):
        click.echo("nothing deleted", err=True)
        sys.exit(1)
    for folder in inventory.remove(cfg, checkpoint_dir, log_dir):
        click.echo(f"deleted {folder}")


def _confirm(question: str) -> bool:
    """Yes or no on the terminal; no answer (end of input) is no."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        click.echo(err=True)  # end the prompt's line
        return False


COMMANDS = (runs, config_, rm)
