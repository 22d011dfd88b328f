"""The comparison: every initializer in `compare.inits` for every seed in `compare.seeds`.

Stages, each its own function: `run` trains what is missing (each run exactly as
`initcmp train` would, in the same folders), `collect` reads the runs' plain-file
records at the comparison's epochs, and `summarise` applies `stats` to them
(experiments/results.py); report/render_compare.py renders a table, files and a plot.
`initcmp report` reads the runs the same way from their own records, without `run`.

Paired design: runs with the same seed see the same data order (it is a function of
seed and epoch only), so the initializer is the only difference within a seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from initcmp.experiments import results
from initcmp.experiments import launch
from initcmp.engine.reporter import Reporter
from initcmp.config.resolve import each_seed
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset
from initcmp.store.records import RunPaths
from initcmp import text


def plan(cfg: Config) -> list[Config]:
    """The runs of a comparison, initializer-major: random-s0, random-s1, ..., he-s2."""
    return [
        run for init in cfg.compare.inits for run in each_seed(cfg, {"init.name": init}, "compare")
    ]


def run(
    cfg: Config,
    load_data: Callable[[], Dataset],
    *,
    checkpoint_root: str | Path = "checkpoints",
    log_root: str | Path = "logs",
    fresh: bool = False,
    reporter: Reporter | None = None,
) -> list[dict]:
    """Train every run of the plan that has not finished (experiments/launch.py: the engine `sweep`
    shares); return `collect`'s records."""
    inits, seeds = len(cfg.compare.inits), len(cfg.compare.seeds)
    launch.train_missing(
        cfg,
        plan(cfg),
        load_data,
        shape=f"{text.plural(inits, 'initializer')} x {text.plural(seeds, 'seed')}",
        checkpoint_root=checkpoint_root,
        log_root=log_root,
        fresh=fresh,
        reporter=reporter,
    )
    return collect(cfg, checkpoint_root, log_root)


def collect(
    cfg: Config, checkpoint_root: str | Path = "checkpoints", log_root: str | Path = "logs"
) -> list[dict]:
    """One record per finished run of the plan, read at `cfg.train.epochs` (a run that
    trained further, from its metrics): its result plus its test-accuracy curve. Runs
    that have not got there are left out (the report says how many are missing)."""
    found = (results.record(c, RunPaths.of(c, checkpoint_root, log_root)) for c in plan(cfg))
    return [rec for rec in found if rec is not None]


def summarise(
    cfg: Config, checkpoint_root: str | Path = "checkpoints", log_root: str | Path = "logs"
) -> results.Outcome:
    """`stats.summarise` over the finished runs of the plan, with `missing_runs`, and the
    records, for the plot (results.outcome). No finished run at all is an error."""
    planned = [(c, RunPaths.of(c, checkpoint_root, log_root)) for c in plan(cfg)]
    return results.outcome(cfg.name, planned, list(cfg.compare.inits), cfg.train.epochs)


def experiment_folder(cfg: Config, log_root: str | Path = "logs") -> Path:
    """Where the comparison's table, files and plot go: beside its runs' logs."""
    return Path(log_root) / cfg.name
