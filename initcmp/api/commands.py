"""initcmp's commands as Python functions (re-exported by initcmp/api/__init__.py and
`initcmp` itself): each resolves its config as the command line does, calls the library
and returns a result (api/results.py) instead of printing. cli/ calls these."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, Union

from initcmp.api.results import (
    Comparison,
    CoordCheck,
    Inspection,
    Run,
    RunResult,
    Sweep,
    Theory,
)
from initcmp.config import grid as grid_mod
from initcmp.config import resolve
from initcmp.config.schema import Config
from initcmp.errors import ConfigError, InitcmpError, Interrupted
from initcmp.store.records import RunPaths

if TYPE_CHECKING:
    from initcmp.engine.reporter import Reporter

# A config: a shipped config's name (`deep_mlp`), a YAML file's path, or None (built-in).
ConfigSource = Union[str, Path, None]
# Overrides: {dotted key: value}, or the command line's "key=value" strings (value YAML).
Overrides = Union[Mapping[str, Any], Iterable[str], None]
# A sweep's grid: {key: [values] or "START:STOP:STEP"}, or the CLI's "KEY=VALUES" strings.
Grid = Union[Mapping[str, Any], Iterable[str], None]

# The config key each command-line option sets (its value already in the key's form);
# an error in one names the option, as the command line spells it.
FLAG_KEYS = {
    "--init": "init.name",
    "--seed": "seed",
    "--epochs": "train.epochs",
    "--steps": "train.steps",
    "--inits": "compare.inits",
    "--seeds": "compare.seeds",
    "--executor": "compare.executor",
    "--address": "ray.address",
}


def make_config(
    config: ConfigSource = None,
    *,
    init: str | None = None,
    seed: int | None = None,
    inits: str | Sequence[str] | None = None,
    seeds: int | Sequence[int] | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    executor: str | None = None,
    address: str | None = None,
    grid: Grid = None,
    overrides: Overrides = None,
) -> Config:
    """The resolved config a command would use with the same options (`initcmp config`).

    Built-in defaults, then the config file, then the options given (those not None),
    then each grid axis, then each override, in order.

    Args:
        config: A shipped config's name (`"deep_mlp"`), a YAML file's path, or None for
            the built-in config (the notebook's experiment).
        init: The initializer (`init.name`); any alias (`"xavier"`).
        seed: The run's seed (`seed`).
        inits: The initializers a comparison runs (`compare.inits`): a list, a
            comma-separated string, or `"all"`.
        seeds: The seeds of a comparison or sweep (`compare.seeds`): N for seeds
            0..N-1, or a list of seeds.
        epochs: Epochs per run (`train.epochs`).
        steps: A budget in steps per run instead of epochs (`train.steps`).
        executor: `"local"` or `"ray"` (`compare.executor`).
        address: A Ray cluster to join, `"host:port"` (`ray.address`).
        grid: A sweep's axes, merged key by key into `sweep.grid`: `{key: [values]}` or
            `{key: "START:STOP:STEP"}` (also `START:STOP` and `START:STOP:*FACTOR`).
        overrides: `{dotted key: value}`, applied last, in order; or `"key=value"`
            strings, the value read as YAML.

    Returns:
        The frozen `Config`.

    Raises:
        ConfigError: A key, a value, the file or the grid is wrong; the message names
            where the value came from as the command line would (`--set KEY`).
    """
    flags = {
        "--init": init,
        "--seed": seed,
        "--inits": _inits(inits),
        "--seeds": _seeds(seeds),
        "--epochs": epochs,
        "--steps": steps,
        "--executor": executor,
        "--address": address or None,  # an empty address is none
    }
    return resolve.load(config, overrides_of(flags, overrides, grid))


def overrides_of(flags: dict, overrides: Overrides = None, grid: Grid = None) -> list:
    """The overrides of a call or a command line, in `make_config`'s order: the options
    given (`{"--seed": 3}`; None: not given), then each grid axis, then `overrides`."""
    given = [
        resolve.Override(FLAG_KEYS[flag], value, flag)
        for flag, value in flags.items()
        if value is not None
    ]
    given += [
        resolve.Override(f"sweep.grid.{key}", values, f"--grid {key}")
        for key, values in _axes(grid)
    ]
    return given + _sets(overrides)


def _inits(inits) -> list[str] | None:
    """`"a,b"` or `["a", "b"]` as `compare.inits` takes them."""
    if inits is None:
        return None
    names = inits.split(",") if isinstance(inits, str) else list(inits)
    return [str(n).strip() for n in names if str(n).strip()]


def _seeds(seeds) -> list[int] | None:
    """N as seeds 0..N-1 (`--seeds N`); a list of seeds as it is."""
    if seeds is None or isinstance(seeds, (list, tuple, range)):
        return None if seeds is None else list(seeds)
    if isinstance(seeds, bool) or not isinstance(seeds, int):
        raise ConfigError(f"--seeds must be a whole number or a list of seeds, not {seeds!r}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, not {seeds}")
    return list(range(seeds))


def _axes(grid: Grid) -> list[tuple[str, Any]]:
    """A grid's axes as (key, values or range text), as `--grid KEY=...` parses them."""
    if grid is None:
        return []
    if isinstance(grid, str):
        grid = [grid]
    if not isinstance(grid, Mapping):  # "KEY=VALUES" strings, or (key, values) parsed
        return [item if isinstance(item, tuple) else grid_mod.from_flag(item) for item in grid]
    axes = []
    for key, values in grid.items():
        if isinstance(values, str):  # "1,2,3" or a range, read as the command line does
            axes.append(grid_mod.from_flag(f"{key}={values}"))
        elif isinstance(values, (list, tuple, range)):
            axes.append((key, list(values)))
        else:  # one value
            axes.append((key, [values]))
    return axes


def _sets(overrides: Overrides) -> list:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [resolve.Override(key, value, f"--set {key}") for key, value in overrides.items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    return [resolve.parse_set(item) for item in overrides]


@contextlib.contextmanager
def library_errors(fresh: bool = False):
    """Inside: running out of memory becomes `OutOfMemoryError`, and an interruption of
    a call made with `fresh` says to rerun without it; other errors pass unchanged."""
    try:
        yield
    except Interrupted as exc:
        if fresh:
            raise exc.after_fresh() from None
        raise
    except InitcmpError:
        raise
    except Exception as exc:
        from initcmp.engine import memory

        error = memory.as_error(exc)
        if error is None:
            raise
        raise error from exc


@contextlib.contextmanager
def _reporter(progress):
    """The display while runs train: none (False), the console's progress bars on stderr
    (True: rich, which draws in Jupyter too), or a `Reporter` of the caller's."""
    from initcmp.engine.reporter import Reporter

    if isinstance(progress, Reporter):
        yield progress
    elif progress:
        from initcmp.report.progress import ConsoleReporter

        with ConsoleReporter() as reporter:
            yield reporter
    else:
        yield Reporter()


def _train_missing(run, cfg: Config, checkpoint_dir, log_dir, fresh: bool, progress) -> None:
    """`run` (compare.run, sweep.run) with the display `progress` asks; the data is loaded
    only if something needs training."""
    from initcmp.data import sources

    with _reporter(progress) as reporter:
        run(
            cfg,
            lambda: sources.load(cfg.data),
            checkpoint_root=checkpoint_dir,
            log_root=log_dir,
            fresh=fresh,
            reporter=reporter,
        )


def train(
    config: ConfigSource = None,
    *,
    init: str | None = None,
    seed: int | None = None,
    epochs: int | None = None,
    overrides: Overrides = None,
    checkpoint_dir: str | Path = "checkpoints",
    log_dir: str | Path = "logs",
    fresh: bool = False,
    progress: bool | Reporter = False,
) -> RunResult:
    """Train one run, or resume it, or read it back if it has finished (`initcmp train`).

    Args:
        config: A shipped config's name, a YAML file's path, or None (built-in).
        init: The initializer (default: the config's `init.name`, `he`).
        seed: The run's seed (default: the config's, 0).
        epochs: Epochs to train (default: the config's `train.epochs`).
        overrides: `{dotted key: value}` (or `"key=value"` strings), applied last.
        checkpoint_dir: Folder of the runs' checkpoints.
        log_dir: Folder of the runs' records and TensorBoard logs.
        fresh: Delete the run's checkpoints and logs first and start over.
        progress: True draws progress bars (stderr, or the notebook); False prints
            nothing; or an `initcmp.engine.reporter.Reporter` to be told.

    Returns:
        A `RunResult`: `.rows` holds the one result `initcmp train --json` prints.

    Raises:
        ConfigError: The config or an option is wrong.
        DataError: The data set cannot be found or read.
        CheckpointError: The run's checkpoints belong to another config or are damaged.
        RunInUseError: Another process trains the run now.
        OutOfMemoryError: The run does not fit in memory.
        Interrupted: Stopped by Ctrl-C (a checkpoint was saved; call again to resume).
    """
    with library_errors(fresh):
        cfg = make_config(config, init=init, seed=seed, epochs=epochs, overrides=overrides)
        from initcmp.data import sources
        from initcmp.engine import train as engine

        dataset = sources.load(cfg.data)
        with _reporter(progress) as reporter:
            result = engine.run(
                cfg,
                dataset,
                checkpoint_root=checkpoint_dir,
                log_root=log_dir,
                fresh=fresh,
                reporter=reporter,
            )
    return RunResult(cfg, result, RunPaths.of(cfg, checkpoint_dir, log_dir))


def evaluate(
    config: ConfigSource = None,
    *,
    init: str | None = None,
    run: str | None = None,
    seed: int | None = None,
    overrides: Overrides = None,
    checkpoint_dir: str | Path = "checkpoints",
    log_dir: str | Path = "logs",
) -> RunResult:
    """Test accuracy and loss of a run's newest checkpoint (`initcmp eval`).

    Args:
        config: A shipped config's name, a YAML file's path, or None (built-in).
        init: The run's initializer (with `seed`, names the run).
        run: The run's folder name instead, as `initcmp runs` lists it (e.g. a sweep's
            cell, `"depth=2,he-s0"`): the run as it was trained.
        seed: The run's seed.
        overrides: `{dotted key: value}` (or `"key=value"` strings), applied last.
        checkpoint_dir: Folder of the runs' checkpoints.
        log_dir: Folder of the runs' records (where `run` is looked up).

    Returns:
        A `RunResult`; its `warnings` are what the command prints on stderr.

    Raises:
        ConfigError: The config or an option is wrong.
        CheckpointError: The run has no checkpoint, or one of another config.
        NoResultsError: No run of that folder name.
    """
    with library_errors():
        cfg = make_config(config, init=init, seed=seed, overrides=overrides)
        if run is not None:  # the run in that folder, as it was trained
            from initcmp.store import inventory

            cfg = inventory.by_folder(cfg.name, run, checkpoint_dir, log_dir)
        from initcmp.data import sources
        from initcmp.engine import evaluate as engine

        dataset = sources.load(cfg.data)
        result = engine.evaluate_run(cfg, dataset, checkpoint_root=checkpoint_dir)
    return RunResult(cfg, result, RunPaths.of(cfg, checkpoint_dir, log_dir))


def compare(
    config: ConfigSource = None,
    *,
    inits: str | Sequence[str] | None = None,
    seeds: int | Sequence[int] | None = None,
    epochs: int | None = None,
    overrides: Overrides = None,
    checkpoint_dir: str | Path = "checkpoints",
    log_dir: str | Path = "logs",
    fresh: bool = False,
    executor: str | None = None,
    address: str | None = None,
    progress: bool | Reporter = False,
    write_files: bool = True,
) -> Comparison:
    """Train every initializer for every seed and compare them (`initcmp compare`).

    Finished runs are read back from their records (no training), interrupted ones
    resume; each run is the run `train` would make, in the same folders.

    Args:
        config: A shipped config's name, a YAML file's path, or None (built-in).
        inits: The initializers: a list, `"a,b,c"`, or `"all"` (default: the config's
            `compare.inits`: random, glorot, he).
        seeds: N for seeds 0..N-1, or a list of seeds (default: the config's, 3).
        epochs: Epochs per run (default: the config's `train.epochs`, 1).
        overrides: `{dotted key: value}` (or `"key=value"` strings), applied last.
        checkpoint_dir: Folder of the runs' checkpoints.
        log_dir: Folder of the runs' records, and of compare.json/.csv/.md/.png.
        fresh: Rerun every run from step 0.
        executor: `"local"` (this process) or `"ray"` (needs `initcmp[ray]`).
        address: A Ray cluster to join (`"host:port"`); without it Ray starts locally.
        progress: True draws progress bars; False prints nothing; or a `Reporter`.
        write_files: Write compare.json, .csv, .md and .png beside the runs' logs, as
            the command does.

    Returns:
        A `Comparison`: `.rows` are `--json`'s rows (one per initializer), `.paired` the
        paired statistics against the best, `.runs` the runs' records.

    Raises:
        ConfigError: The config or an option is wrong.
        NoResultsError: No run finished (every one was held elsewhere, say).
        ExecutorError: Ray is missing or unreachable.
        RunInUseError: As for `train`; so are CheckpointError, DataError,
            OutOfMemoryError, OutputError and Interrupted.
    """
    with library_errors(fresh):
        cfg = make_config(
            config,
            inits=inits,
            seeds=seeds,
            epochs=epochs,
            executor=executor,
            address=address,
            overrides=overrides,
        )
        from initcmp.experiments import compare as compare_mod

        _train_missing(compare_mod.run, cfg, checkpoint_dir, log_dir, fresh, progress)
        outcome = compare_mod.summarise(cfg, checkpoint_dir, log_dir)
        return _comparison(cfg, outcome, compare_mod.experiment_folder(cfg, log_dir), write_files)


def _comparison(cfg: Config, outcome, folder: Path, write: bool, replace: bool = True):
    """The result, its files written in `folder` if `write`; unless `replace` (a compare
    writing its own plan), files that cover runs this one leaves out are kept."""
    from initcmp.report import render_compare

    kept = None if replace or not write else render_compare.kept_because(outcome.summary, folder)
    write = write and not kept
    files = render_compare.write_files(outcome.summary, outcome.records, folder) if write else []
    return Comparison(cfg.name, outcome, folder, files, kept)


def sweep(
    config: ConfigSource = None,
    *,
    grid: Grid = None,
    seeds: int | Sequence[int] | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    overrides: Overrides = None,
    checkpoint_dir: str | Path = "checkpoints",
    log_dir: str | Path = "logs",
    fresh: bool = False,
    yes: bool = False,
    name: str | None = None,
    executor: str | None = None,
    address: str | None = None,
    progress: bool | Reporter = False,
    write_files: bool = True,
) -> Sweep:
    """Train a grid of config values times seeds and map accuracy over it (`initcmp sweep`).

    Every combination of the grid's values is a cell, trained with every seed; each run
    is an ordinary run of the experiment (finished ones skipped, interrupted ones
    resumed).

    Args:
        config: A shipped config's name (`"he_depth"`), a path, or None (built-in).
        grid: Axes merged key by key into the config's `sweep.grid`: `{key: [values]}`
            or `{key: "START:STOP:STEP"}` (STOP included; `START:STOP` whole numbers;
            `START:STOP:*FACTOR` geometric).
        seeds: N for seeds 0..N-1, or a list of seeds.
        epochs: Epochs per run.
        steps: A budget in steps per run instead of epochs.
        overrides: `{dotted key: value}` (or `"key=value"` strings), applied last.
        checkpoint_dir: Folder of the runs' checkpoints.
        log_dir: Folder of the runs' records; the sweep's spec, table and figure go to
            LOG_DIR/<experiment>/sweeps/<name>/.
        fresh: Rerun every run from step 0.
        yes: Allow a sweep of more than 1,000 runs.
        name: The sweep's name (default: its grid's keys and a digest of its spec).
        executor: `"local"` or `"ray"`.
        address: A Ray cluster to join.
        progress: True draws progress bars; False prints nothing; or a `Reporter`.
        write_files: Write the spec and sweep.json, .csv, .md and .png, as the command
            does (without them, `load(sweep=...)` cannot find it by name).

    Returns:
        A `Sweep`: `.rows` are `--json`'s cells, `.name` what `load(sweep=...)` takes.

    Raises:
        ConfigError: The grid is empty or wrong, too large without `yes`, or `name`
            belongs to another sweep.
        NoResultsError, RunInUseError, OutOfMemoryError, Interrupted...: as `compare`.
    """
    with library_errors(fresh):
        cfg = make_config(
            config,
            seeds=seeds,
            epochs=epochs,
            steps=steps,
            executor=executor,
            address=address,
            grid=grid,
            overrides=overrides,
        )
        from initcmp.experiments import sweep as sweep_mod

        need = sweep_mod.check_size(cfg, confirmed=yes)  # before any cell is planned
        if write_files:
            sweep_mod.save_spec(cfg, log_dir, name)  # before training: report works at once
        run_sweep = functools.partial(sweep_mod.run, need=need)
        _train_missing(run_sweep, cfg, checkpoint_dir, log_dir, fresh, progress)
        return _sweep(cfg, checkpoint_dir, log_dir, name, write_files)


def _sweep(cfg: Config, checkpoint_dir, log_dir, name: str | None, write: bool) -> Sweep:
    """A sweep's result from its runs' records, its files written if `write`."""
    from initcmp.experiments import sweep as sweep_mod
    from initcmp.report import render_sweep

    summary = sweep_mod.summarise(cfg, checkpoint_dir, log_dir)
    if write:
        sweep_mod.save_spec(cfg, log_dir, name)
    folder = sweep_mod.folder(cfg, log_dir, name)
    files = render_sweep.write_files(summary, folder) if write else []
    runs = [
        Run.of(run, checkpoint_dir, log_dir, cell.values)
        for cell in sweep_mod.plan(cfg)
        for run in cell.runs
    ]
    return Sweep(cfg, summary, folder, files, [r for r in runs if r.step is not None])


def load(
    config: ConfigSource = None,
    *,
    sweep: str | None = None,
    inits: str | Sequence[str] | None = None,
    seeds: int | Sequence[int] | None = None,
    epochs: int | None = None,
    grid: Grid = None,
    steps: int | None = None,
    overrides: Overrides = None,
    checkpoint_dir: str | Path = "checkpoints",
    log_dir: str | Path = "logs",
    write_files: bool = False,
) -> Comparison | Sweep:
    """A comparison or a sweep from the runs on disk, training nothing (`initcmp report`).

    With `sweep`, the named sweep (as `runs` lists it) from its saved spec; with a config
    that has a grid (or `grid`), that sweep; otherwise the experiment's comparison: every
    run in LOG_DIR/<name>/ (but a sweep's cells), or those `inits`/`seeds` pick, each
    read with the config it recorded, at `epochs` (default: the epochs all have reached).

    Args:
        config: A shipped config's name, a path, or None: names the experiment.
        sweep: A saved sweep's name.
        inits: Initializers to report (a list or `"a,b"`; default: every one found).
        seeds: N for seeds 0..N-1, or a list (default: every one found).
        epochs: Read the runs at this many epochs.
        grid: A sweep's axes, as for `sweep`.
        steps: The sweep's budget in steps.
        overrides: `{dotted key: value}` (or `"key=value"` strings), applied last.
        checkpoint_dir: Folder of the runs' checkpoints.
        log_dir: Folder of the runs' records.
        write_files: Write the table and figure files as `initcmp report` does (a
            comparison's compare.* are left as they are where they cover runs this
            one leaves out: `kept` says so).

    Returns:
        A `Comparison`, or a `Sweep`.

    Raises:
        NoResultsError: No finished run of the experiment (or the sweep), or no saved
            sweep of that name.
        ConfigError: The config or an option is wrong.
    """
    with library_errors():
        flags = {
            "--inits": _inits(inits),
            "--seeds": _seeds(seeds),
            "--epochs": epochs,
            "--steps": steps,
        }
        given = overrides_of(flags, overrides, grid)
        cfg = resolve.load(config, given)
        if sweep is not None:  # a saved sweep: its spec says everything
            from initcmp.experiments import sweep as sweep_mod

            saved = sweep_mod.load(sweep, cfg.name, log_dir)
            return _sweep(saved, checkpoint_dir, log_dir, sweep, write_files)
        if cfg.sweep.grid:  # a sweep's config: its cells again, from their records
            return _sweep(cfg, checkpoint_dir, log_dir, None, write_files)
        from initcmp.experiments import compare as compare_mod
        from initcmp.experiments import results

        # Only what this call asks picks runs; the rest comes from their records.
        selection = results.Selection.asked(cfg, {override.key for override in given})
        outcome = results.report(cfg.name, selection, checkpoint_dir, log_dir)
        folder = compare_mod.experiment_folder(cfg, log_dir)
        return _comparison(cfg, outcome, folder, write_files, replace=False)


def theory(
    config: ConfigSource = None,
    *,
    init: str | None = None,
    overrides: Overrides = None,
    critical: bool = False,
) -> Theory:
    """What mean-field theory predicts for the configured network (`initcmp theory`).

    q*, χ₁ and the phase, c*, χ_c, the depth scales ξ_c and ξ_q, what they mean at this
    depth, and per layer the predicted activation std and gradient change (Poole et al.
    2016; Schoenholz et al. 2017). The first layer's q comes from the training images.

    Args:
        config: A shipped config's name, a path, or None (built-in).
        init: The initializer (default: the config's).
        overrides: `{dotted key: value}` (or `"key=value"` strings), e.g.
            `{"model.depth": 50, "model.activation": "tanh"}`.
        critical: Also find the σ_w² on the critical line for the activation and
            `init.bias_variance`.

    Returns:
        A `Theory`: `.summary` is `--json`'s object, `.rows` its layers.

    Raises:
        ConfigError: The config is wrong, or the initializer has no σ_w² to predict from
            (lsuv, zeros).
        DataError: The training images cannot be read.
    """
    with library_errors():
        cfg = make_config(config, init=init, overrides=overrides)
        from initcmp.analysis import predict
        from initcmp.data import sources

        if cfg.init.name == "lsuv":
            raise ConfigError(
                "--init lsuv: LSUV's σ_w² exists only once it has seen data; `initcmp inspect "
                "--init lsuv` shows the theory beside its measured kernels"
            )
        second = predict.second_moment(sources.load(cfg.data).x_train)
        result = predict.summary(cfg, second, critical=critical)
        if not result:
            raise ConfigError(f"--init {cfg.init.name}: its weights are zero; no signal to predict")
    return Theory(cfg, result)


def inspect(
    config: ConfigSource = None,
    *,
    inits: str | Sequence[str] | None = None,
    seed: int | None = None,
    overrides: Overrides = None,
    batch: int | None = None,
) -> Inspection:
    """Why an initializer wins, layer by layer, at initialization (`initcmp inspect`).

    Builds each run's model as training would (same seeds; LSUV applied), passes one
    batch of training images forward and back and measures per layer the weight,
    activation and gradient std, dead or saturated units, beside mean-field theory's
    predictions; `findings` says in words what that means.

    Args:
        config: A shipped config's name, a path, or None (built-in).
        inits: One initializer, or a list (default: the config's).
        seed: The runs' seed.
        overrides: `{dotted key: value}` (or `"key=value"` strings), applied last.
        batch: Training images to measure on (default: `train.batch_size`, the run's
            own first batch).

    Returns:
        An `Inspection`: `.summary` is `--json`'s object, `.rows` every layer of every
        initializer (with `init`), `.findings` the sentences.

    Raises:
        ConfigError: The config or an option is wrong.
        OutOfMemoryError: The model or the batch does not fit.
    """
    with library_errors():
        if batch is not None and batch < 1:
            raise ConfigError(f"--batch must be at least 1, not {batch}")
        names = [inits] if isinstance(inits, str) else list(inits or [None])
        cfgs = [make_config(config, init=name, seed=seed, overrides=overrides) for name in names]
        from initcmp.analysis import diagnose
        from initcmp.data import sources

        dataset = sources.load(cfgs[0].data)
        return Inspection([diagnose.inspect(c, dataset, batch) for c in cfgs])


def coord_check(
    config: ConfigSource = None,
    *,
    parametrizations: Sequence[str] = (),
    widths: Sequence[int] | None = None,
    steps: int | None = None,
    seeds: int | Sequence[int] | None = None,
    overrides: Overrides = None,
) -> CoordCheck:
    """The coordinate check of Tensor Programs V (`initcmp coord-check`).

    For each width, the network (its depth, init, parametrization, optimizer and learning
    rate) trains `steps` steps on one fixed batch, for each seed; at every t = 0..steps
    the mean |h| of every layer's output, logits included, is measured, and each layer's
    slope of log size against log width stands beside Tensor Programs' exponent.

    Args:
        config: A shipped config's name (`"width_coord_check"`), a path, or None.
        parametrizations: Check each of these (`"standard"`, `"ntk"`, `"mup"`) side by
            side; empty: the config's `model.parametrization`.
        widths: The hidden widths (`coord_check.widths`).
        steps: Training steps T (`coord_check.steps`).
        seeds: N for seeds 0..N-1, or a list of seeds.
        overrides: `{dotted key: value}` (or `"key=value"` strings), applied last.

    Returns:
        A `CoordCheck`: `.summary` is `--json`'s list, `.rows` the per-layer slopes.

    Raises:
        ConfigError: The config or an option is wrong (e.g. ntk or mup without
            `model.base_width`).
        DataError: The training images cannot be read.
        OutOfMemoryError: A width does not fit.
    """
    with library_errors():
        flags = [
            ("coord_check.widths", None if widths is None else list(widths), "--widths"),
            ("coord_check.steps", steps, "--steps"),
            ("compare.seeds", _seeds(seeds), "--seeds"),
        ]
        given = [resolve.Override(k, v, flag) for k, v, flag in flags if v is not None]
        chosen = [
            [resolve.Override("model.parametrization", name, "--parametrization")]
            for name in parametrizations
        ]
        cfgs = [  # --set last, as everywhere
            resolve.load(config, given + each + _sets(overrides)) for each in chosen or [[]]
        ]
        from initcmp.analysis import width_theory
        from initcmp.data import sources

        dataset = sources.load(cfgs[0].data)
        return CoordCheck([width_theory.coordinate_check(cfg, dataset) for cfg in cfgs])
