"""The command line: parse, call the library, turn its errors into one line and an exit code.

Nothing here trains or checks anything itself; TensorFlow is imported only inside the
commands that need it, so `--help`, `inits` and config errors are instant.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from initcmp import config_load
from initcmp.errors import ConfigError, InitcmpError, OutputError


def _fails_cleanly(command):
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


def _options(*options):
    """Apply several click options as one decorator (in the order listed)."""
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


_config_options = _options(
    click.option("--config", "config_path", type=click.Path(dir_okay=False),
                 help="YAML experiment config (default: the notebook's experiment)."),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                 help="Override one config key; VALUE is YAML. Repeatable."))
_seed_option = click.option("--seed", type=int, help="Run seed (overrides `seed`).")
_epochs_option = click.option("--epochs", type=int,
                              help="Epochs per run (overrides `train.epochs`).")
_checkpoint_dir_option = click.option("--checkpoint-dir", default="checkpoints",
                                      show_default=True)
_dirs_options = _options(_checkpoint_dir_option,
                         click.option("--log-dir", default="logs", show_default=True))
_json_option = click.option("--json", "as_json", is_flag=True,
                            help="Print one JSON object on stdout.")
_compare_options = _options(
    click.option("--inits", "init_names", help="Comma-separated initializers "
                 "(overrides `compare.inits`), e.g. random,glorot,he."),
    click.option("--seeds", type=int, help="Use seeds 0..N-1 (overrides `compare.seeds`)."),
    _epochs_option)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="initcmp")
def main(debug: bool) -> None:
    """How much does the weight initializer matter? Train, evaluate and compare MLPs on MNIST."""


@main.command()
@click.option("--init", help="Initializer name (see `initcmp inits`).")
@_config_options
@_seed_option
@_epochs_option
@_dirs_options
@click.option("--fresh", is_flag=True, help="Delete this run's checkpoints and logs first.")
@_json_option
@_fails_cleanly
def train(init, config_path, seed, overrides, epochs, checkpoint_dir, log_dir, fresh, as_json):
    """Train one run; rerunning the same command resumes it."""
    cfg = _load_config(config_path, {"--init": init, "--seed": seed, "--epochs": epochs},
                       overrides)
    from initcmp import data, train as train_mod
    from initcmp.progress import ConsoleReporter

    dataset = data.load(cfg.data)
    with ConsoleReporter() as reporter:
        result = train_mod.run(cfg, dataset, checkpoint_root=checkpoint_dir, log_root=log_dir,
                               fresh=fresh, reporter=reporter)
    _emit(result, as_json, _result_line)


@main.command("eval")
@click.option("--init", help="Initializer name of the run to evaluate.")
@_config_options
@_seed_option
@_checkpoint_dir_option
@_json_option
@_fails_cleanly
def eval_(init, config_path, seed, overrides, checkpoint_dir, as_json):
    """Test accuracy and loss of a run's newest checkpoint."""
    cfg = _load_config(config_path, {"--init": init, "--seed": seed}, overrides)
    from initcmp import data, evaluate

    dataset = data.load(cfg.data)
    result = evaluate.evaluate_run(cfg, dataset, checkpoint_root=checkpoint_dir)
    for line in result["warnings"]:
        click.echo(line, err=True)
    _emit(result, as_json, _result_line)


@main.command()
@_config_options
@_compare_options
@_dirs_options
@click.option("--fresh", is_flag=True, help="Rerun every run from scratch.")
@click.option("--executor", type=click.Choice(["local", "ray"]),
              help="Where the runs train (overrides `compare.executor`; default local).")
@click.option("--address", help="Ray cluster to join, e.g. 10.0.0.1:6379 (overrides "
              "`ray.address`); without it --executor ray starts a local instance.")
@_json_option
@_fails_cleanly
def compare(config_path, overrides, init_names, seeds, epochs, checkpoint_dir, log_dir,
            fresh, executor, address, as_json):
    """Every initializer over several seeds: a table with statistics, files and a plot.

    Finished runs are read back, interrupted ones resume: rerunning is cheap."""
    flags = {**_compare_flags(init_names, seeds, epochs), "--executor": executor,
             "--address": address or None}
    cfg = _load_config(config_path, flags, overrides)
    from initcmp import compare as compare_mod, data
    from initcmp.progress import ConsoleReporter

    with ConsoleReporter() as reporter:
        compare_mod.run(cfg, lambda: data.load(cfg.data),
                        checkpoint_root=checkpoint_dir, log_root=log_dir, fresh=fresh,
                        reporter=reporter)
    _report(cfg, checkpoint_dir, log_dir, as_json)


@main.command()
@_config_options
@_compare_options
@_dirs_options
@_json_option
@_fails_cleanly
def report(config_path, overrides, init_names, seeds, epochs, checkpoint_dir, log_dir,
           as_json):
    """Rebuild a comparison's table, files and plot from its runs' records; no training."""
    cfg = _load_config(config_path, _compare_flags(init_names, seeds, epochs), overrides)
    _report(cfg, checkpoint_dir, log_dir, as_json)


def _compare_flags(init_names, seeds, epochs) -> dict:
    """--inits a,b and --seeds N in their keys' form: [a, b] and [0, ..., N-1]."""
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, not {seeds}")
    names = None if init_names is None else [
        n.strip() for n in init_names.split(",") if n.strip()]
    return {"--inits": names, "--seeds": None if seeds is None else list(range(seeds)),
            "--epochs": epochs}


# The config key each command-line flag sets (its value already in the key's form).
_FLAG_KEYS = {"--init": "init.name", "--seed": "seed", "--epochs": "train.epochs",
              "--inits": "compare.inits", "--seeds": "compare.seeds",
              "--executor": "compare.executor", "--address": "ray.address"}


def _load_config(config_path, flags: dict, sets):
    """The one route into the config: defaults < --config file < the flags given (those
    not None in `flags`, {"--seed": 3}) < each `--set KEY=VALUE` in order."""
    overrides = [config_load.Override(_FLAG_KEYS[flag], value, flag)
                 for flag, value in flags.items() if value is not None]
    overrides += [config_load.parse_set(item) for item in sets]
    return config_load.load(config_path, overrides)


def _report(cfg, checkpoint_dir, log_dir, as_json) -> None:
    from initcmp import compare as compare_mod, report as report_mod

    summary, records = compare_mod.summarise(cfg, checkpoint_dir, log_dir)
    files = report_mod.write_files(summary, records,
                                   compare_mod.experiment_folder(cfg, log_dir))
    if as_json:
        click.echo(json.dumps(summary))
        return
    report_mod.print_tables(summary)
    if summary["missing_runs"]:
        click.echo(f"{summary['missing_runs']} planned runs have not finished: "
                   "`initcmp compare` trains them")
    click.echo("wrote " + ", ".join(str(f) for f in files))


@main.command()
@click.option("--init", "init_names", multiple=True,
              help="Initializer; repeat to compare (--init glorot --init he). "
                   "Default: the config's.")
@_config_options
@_seed_option
@click.option("--batch", type=int, help="Training images to measure on (default: "
              "train.batch_size, the run's own first batch).")
@_json_option
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write activation and gradient std against depth to this PNG.")
@_fails_cleanly
def inspect(init_names, config_path, overrides, seed, batch, as_json, plot_path):
    """Why an initializer wins: per-layer signal of the untrained model on one batch.

    Weight std against the formula, activation mean and std, dead ReLU units and weight
    gradient std, layer by layer, with what they mean in words."""
    if batch is not None and batch < 1:
        raise ConfigError(f"--batch must be at least 1, not {batch}")
    cfgs = [_load_config(config_path, {"--init": name, "--seed": seed}, overrides)
            for name in (init_names or (None,))]
    from initcmp import data, diagnose

    cfg = cfgs[0]
    dataset = data.load(cfg.data)
    results = [diagnose.inspect(c, dataset, batch) for c in cfgs]
    if plot_path:
        try:
            diagnose.plot(results, plot_path)
        except OSError as exc:
            raise OutputError(f"--plot {plot_path}: cannot write ({exc.strerror or exc})") from None
    if as_json:
        click.echo(json.dumps(diagnose.to_json(results), indent=2))
        return
    from initcmp.report import rich_table, terminal

    console = terminal()
    for result in results:
        params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
        title = (f"{result['init']}{f' ({params})' if params else ''}, seed {result['seed']}: "
                 f"{len(result['hidden'])} hidden {result['activation']} layers at "
                 f"initialization, {result['batch']} images, loss {result['loss']:.4g}")
        console.print(rich_table(title, diagnose.COLUMNS, diagnose.table_rows(result)))
        for line in result["findings"]:
            console.print(f"  - {line}", soft_wrap=True, highlight=False)
        console.print()
    if plot_path:
        click.echo(f"wrote {plot_path}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout.")
def inits(as_json):
    """List the initializers with their formula, parameters and reference."""
    from initcmp import initializers

    rows = [{"name": s.name, "formula": s.formula, "reference": s.reference,
             "params": initializers.default_params(s.name)}
            for s in initializers.REGISTRY.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="initializers (Dense kernel of shape fan_in x fan_out)")
    for column in ("name", "formula", "parameters", "reference"):
        table.add_column(column, overflow="fold")
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "-"
        table.add_row(row["name"], row["formula"], params, row["reference"])
    Console().print(table)


def _emit(result: dict, as_json: bool, line) -> None:
    click.echo(json.dumps(result) if as_json else line(result))


def _result_line(r: dict) -> str:
    if r.get("diverged"):
        return (f"{r['init']}-s{r['seed']}: diverged at step {r['diverged_step']} "
                "(loss became NaN or inf)")
    accuracy = "n/a" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2%}"
    loss = "n/a" if r["test_loss"] is None else f"{r['test_loss']:.4f}"
    return (f"{r['init']}-s{r['seed']}: test accuracy {accuracy}, test loss {loss} "
            f"(step {r['step']}, epoch {r['epoch']:g}) in {r['checkpoint_dir']}")


if __name__ == "__main__":
    main()
