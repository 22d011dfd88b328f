"""The command line: parse, call the library, turn its errors into one line and an exit code.

Nothing here trains or checks anything itself; TensorFlow is imported only inside the
commands that need it, so `--help`, `inits` and config errors are instant.
"""

from __future__ import annotations

import json

import click

from initcmp.cli_options import (
    checkpoint_dir_option,
    compare_flags,
    compare_options,
    config_options,
    dirs_options,
    epochs_option,
    fails_cleanly,
    json_option,
    load_config,
    seed_option,
)
from initcmp.errors import ConfigError, OutputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="initcmp")
def main(debug: bool) -> None:
    """How much does the weight initializer matter? Train, evaluate and compare MLPs on MNIST."""


@main.command()
@click.option("--init", help="Initializer name (see `initcmp inits`).")
@config_options
@seed_option
@epochs_option
@dirs_options
@click.option("--fresh", is_flag=True, help="Delete this run's checkpoints and logs first.")
@json_option
@fails_cleanly
def train(init, config_path, seed, overrides, epochs, checkpoint_dir, log_dir, fresh, as_json):
    """Train one run; rerunning the same command resumes it."""
    cfg = load_config(config_path, {"--init": init, "--seed": seed, "--epochs": epochs}, overrides)
    from initcmp import data, train as train_mod
    from initcmp.progress import ConsoleReporter

    dataset = data.load(cfg.data)
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
@click.option("--init", help="Initializer name of the run to evaluate.")
@config_options
@seed_option
@checkpoint_dir_option
@json_option
@fails_cleanly
def eval_(init, config_path, seed, overrides, checkpoint_dir, as_json):
    """Test accuracy and loss of a run's newest checkpoint."""
    cfg = load_config(config_path, {"--init": init, "--seed": seed}, overrides)
    from initcmp import data, evaluate

    dataset = data.load(cfg.data)
    result = evaluate.evaluate_run(cfg, dataset, checkpoint_root=checkpoint_dir)
    for line in result["warnings"]:
        click.echo(line, err=True)
    _emit(cfg, result, as_json)


@main.command()
@config_options
@compare_options
@dirs_options
@click.option("--fresh", is_flag=True, help="Rerun every run from scratch.")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Where the runs train (overrides `compare.executor`; default local).",
)
@click.option(
    "--address",
    help="Ray cluster to join, e.g. 10.0.0.1:6379 (overrides "
    "`ray.address`); without it --executor ray starts a local instance.",
)
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
    """Every initializer over several seeds: a table with statistics, files and a plot.

    Finished runs are read back, interrupted ones resume: rerunning is cheap."""
    flags = {
        **compare_flags(init_names, seeds, epochs),
        "--executor": executor,
        "--address": address or None,
    }
    cfg = load_config(config_path, flags, overrides)
    from initcmp import compare as compare_mod, data
    from initcmp.progress import ConsoleReporter

    with ConsoleReporter() as reporter:
        compare_mod.run(
            cfg,
            lambda: data.load(cfg.data),
            checkpoint_root=checkpoint_dir,
            log_root=log_dir,
            fresh=fresh,
            reporter=reporter,
        )
    _report(cfg, checkpoint_dir, log_dir, as_json)


@main.command()
@config_options
@compare_options
@dirs_options
@json_option
@fails_cleanly
def report(config_path, overrides, init_names, seeds, epochs, checkpoint_dir, log_dir, as_json):
    """Rebuild a comparison's table, files and plot from its runs' records; no training."""
    cfg = load_config(config_path, compare_flags(init_names, seeds, epochs), overrides)
    _report(cfg, checkpoint_dir, log_dir, as_json)


def _report(cfg, checkpoint_dir, log_dir, as_json) -> None:
    from initcmp import compare as compare_mod, report as report_mod

    summary, records = compare_mod.summarise(cfg, checkpoint_dir, log_dir)
    files = report_mod.write_files(summary, records, compare_mod.experiment_folder(cfg, log_dir))
    if as_json:
        click.echo(json.dumps(summary))
        return
    report_mod.print_tables(summary)
    if summary["missing_runs"]:
        click.echo(
            f"{summary['missing_runs']} planned runs have not finished: "
            "`initcmp compare` trains them"
        )
    click.echo("wrote " + ", ".join(str(f) for f in files))


@main.command()
@click.option(
    "--init",
    "init_names",
    multiple=True,
    help="Initializer; repeat to compare (--init glorot --init he). Default: the config's.",
)
@config_options
@seed_option
@click.option(
    "--batch",
    type=int,
    help="Training images to measure on (default: train.batch_size, the run's own first batch).",
)
@json_option
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    help="Write activation and gradient std against depth to this PNG.",
)
@fails_cleanly
def inspect(init_names, config_path, overrides, seed, batch, as_json, plot_path):
    """Why an initializer wins: per-layer signal of the untrained model on one batch.

    Weight std against the formula, activation mean and std, dead ReLU units and weight
    gradient std, layer by layer, with what they mean in words."""
    if batch is not None and batch < 1:
        raise ConfigError(f"--batch must be at least 1, not {batch}")
    cfgs = [
        load_config(config_path, {"--init": name, "--seed": seed}, overrides)
        for name in (init_names or (None,))
    ]
    from initcmp import data, diagnose, plots

    cfg = cfgs[0]
    dataset = data.load(cfg.data)
    results = [diagnose.inspect(c, dataset, batch) for c in cfgs]
    if plot_path:
        try:
            plots.signal(results, plot_path)
        except OutputError as exc:  # name the flag the path came from
            raise OutputError(f"--plot: {exc}") from None
    if as_json:
        click.echo(json.dumps(diagnose.to_json(results), indent=2))
        return
    from initcmp import report

    report.print_inspection(results)
    if plot_path:
        click.echo(f"wrote {plot_path}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout.")
def inits(as_json):
    """List the initializers with their formula, parameters and reference."""
    from initcmp import initializers

    rows = [
        {
            "name": s.name,
            "formula": s.formula,
            "reference": s.reference,
            "params": initializers.default_params(s.name),
        }
        for s in initializers.REGISTRY.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from initcmp import report

    report.print_initializers(rows)


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
