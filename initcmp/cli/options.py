"""The command line's shared parts: the options several commands take, the one route
from flags to the config (every flag is an override of one dotted key), and the one way
a library error reaches the user (one line and an exit code)."""

from __future__ import annotations

import functools
import sys

import click

from initcmp import api
from initcmp.config import resolve
from initcmp.config import yaml_files
from initcmp.config.schema import Config
from initcmp.errors import InitcmpError, Interrupted

# The built-in config: the defaults that the options' help names.
DEFAULTS = Config()


def fails_cleanly(command):
    """Library errors become `initcmp: error: ...` and an exit code, and so do running out
    of memory (2) and Ctrl-C anywhere in a command (130, not click's "Aborted!" and 1);
    --debug re-raises."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (Exception, KeyboardInterrupt) as exc:
            error = _as_error(exc, fresh=bool(kwargs.get("fresh")))
            if error is None or click.get_current_context().find_root().params.get("debug"):
                raise
        click.echo(f"initcmp: error: {error}", err=True)
        sys.exit(error.exit_code)

    return wrapper


def _as_error(exc: BaseException, fresh: bool) -> InitcmpError | None:
    """What the user is told about `exc`, which escaped a command run with --fresh or
    not; None for a bug, which keeps its traceback."""
    from initcmp.engine import memory

    if isinstance(exc, Interrupted) and fresh:
        return exc.after_fresh()  # rerunning with --fresh would not resume: start over
    if isinstance(exc, InitcmpError):
        return exc
    if isinstance(exc, KeyboardInterrupt):  # before training began, or between its steps
        return Interrupted("interrupted (Ctrl-C)")
    return memory.as_error(exc)


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
        help="YAML experiment config: a file, or a shipped one by name "
        f"({', '.join(yaml_files.shipped())}). Default: the built-in one, the notebook's "
        "experiment (--config mnist_mlp spells it out).",
    ),
    click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set one config key, e.g. --set train.learning_rate=0.01 (VALUE is YAML). "
        "Repeatable; applied after every other flag.",
    ),
)


def init_option(what: str = "Initializer", *names, **kwargs):
    """--init NAME, saying what it defaults to: the config's init.name."""
    default = f"built-in default {DEFAULTS.init.name}"
    help = f"{what} (sets `init.name`; {default})."
    return click.option("--init", *names, metavar="NAME", help=help, **kwargs)


def plot_option(what: str):
    """--plot FILE: a PNG of `what`."""
    return click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help=what)


run_option = click.option(
    "--run",
    "run_name",
    help="The run's folder name, as `initcmp runs` lists it (default: the run --init and "
    "--seed name).",
)

seed_option = click.option(
    "--seed", type=int, help=f"Run seed (sets `seed`; built-in default {DEFAULTS.seed})."
)
epochs_option = click.option(
    "--epochs",
    type=int,
    help=f"Epochs per run (sets `train.epochs`; built-in default {DEFAULTS.train.epochs}).",
)
checkpoint_dir_option = click.option(
    "--checkpoint-dir",
    default="checkpoints",
    show_default=True,
    metavar="DIR",
    help="Folder of the runs' checkpoints: DIR/<name>/<init>-s<seed>/.",
)
dirs_options = options(
    checkpoint_dir_option,
    click.option(
        "--log-dir",
        default="logs",
        show_default=True,
        metavar="DIR",
        help="Folder of the runs' records and TensorBoard logs, and of the experiment's "
        "tables and figures (compare.* or sweep.*).",
    ),
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout."
)
compare_options = options(
    click.option(
        "--inits",
        "init_names",
        help="Comma-separated initializers, or all (sets `compare.inits`; built-in default "
        f"{','.join(DEFAULTS.compare.inits)}).",
    ),
    click.option(
        "--seeds",
        type=int,
        help="Use seeds 0..N-1 (sets `compare.seeds`; built-in default "
        f"{len(DEFAULTS.compare.seeds)}: seeds {', '.join(map(str, DEFAULTS.compare.seeds))}).",
    ),
    epochs_option,
)

executor_options = options(
    click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        help="Where the runs train (sets `compare.executor`, default "
        f"{DEFAULTS.compare.executor}).",
    ),
    click.option(
        "--address",
        help="Ray cluster to join, e.g. 10.0.0.1:6379 (sets `ray.address`); without it "
        "--executor ray starts a local instance.",
    ),
)


def load_config(config_path, flags: dict, sets, axes=()):
    """The one route into the config (`initcmp.api.make_config`'s): defaults < --config
    file < the flags given (those not None in `flags`, {"--seed": 3}) < each
    `--grid KEY=...` (`axes`: (KEY, values), as grid.from_flag parses them) < each
    `--set KEY=VALUE` in order."""
    return resolve.load(config_path, overrides_of(flags, sets, axes))


def overrides_of(flags: dict, sets, axes=()) -> list[resolve.Override]:
    """The overrides a command line makes, in load_config's order; each `--set` parsed
    once (api.overrides_of)."""
    return api.overrides_of(flags, list(sets), list(axes))
