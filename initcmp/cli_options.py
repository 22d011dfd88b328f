"""The command line's shared parts: the options several commands take, the one route
from flags to the config (every flag is an override of one dotted key), and the one way
a library error reaches the user (one line and an exit code)."""

from __future__ import annotations

import functools
import sys

import click

from initcmp import config_load
from initcmp.errors import ConfigError, InitcmpError


def fails_cleanly(command):
    """Library errors become `initcmp: error: ...` and an exit code; --debug re-raises."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InitcmpError as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            click.echo(f"initcmp: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def options(*options):
    """Apply several click options as one decorator (in the order listed)."""

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


config_options = options(
    click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="YAML experiment config (default: the notebook's experiment).",
    ),
    click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one config key; VALUE is YAML. Repeatable.",
    ),
)
seed_option = click.option("--seed", type=int, help="Run seed (overrides `seed`).")
epochs_option = click.option(
    "--epochs", type=int, help="Epochs per run (overrides `train.epochs`)."
)
checkpoint_dir_option = click.option("--checkpoint-dir", default="checkpoints", show_default=True)
dirs_options = options(
    checkpoint_dir_option, click.option("--log-dir", default="logs", show_default=True)
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout."
)
compare_options = options(
    click.option(
        "--inits",
        "init_names",
        help="Comma-separated initializers (overrides `compare.inits`), e.g. random,glorot,he.",
    ),
    click.option("--seeds", type=int, help="Use seeds 0..N-1 (overrides `compare.seeds`)."),
    epochs_option,
)


def compare_flags(init_names, seeds, epochs) -> dict:
    """--inits a,b and --seeds N in their keys' form: [a, b] and [0, ..., N-1]."""
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, not {seeds}")
    names = None if init_names is None else [n.strip() for n in init_names.split(",") if n.strip()]
    return {
        "--inits": names,
        "--seeds": None if seeds is None else list(range(seeds)),
        "--epochs": epochs,
    }


# The config key each command-line flag sets (its value already in the key's form).
FLAG_KEYS = {
    "--init": "init.name",
    "--seed": "seed",
    "--epochs": "train.epochs",
    "--inits": "compare.inits",
    "--seeds": "compare.seeds",
    "--executor": "compare.executor",
    "--address": "ray.address",
}


def load_config(config_path, flags: dict, sets):
    """The one route into the config: defaults < --config file < the flags given (those
    not None in `flags`, {"--seed": 3}) < each `--set KEY=VALUE` in order."""
    overrides = [
        config_load.Override(FLAG_KEYS[flag], value, flag)
        for flag, value in flags.items()
        if value is not None
    ]
    overrides += [config_load.parse_set(item) for item in sets]
    return config_load.load(config_path, overrides)
