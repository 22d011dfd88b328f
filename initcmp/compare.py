"""The comparison: every initializer in `compare.inits` for every seed in `compare.seeds`.

Stages, each its own function: `run` trains what is missing (each run exactly as
`initcmp train` would, in the same folders), `collect` reads the runs' plain-file
records at the comparison's epochs, and `summarise` applies `stats` to them
(recorded.py); report.py renders a table, files and a plot. `initcmp report` reads the
runs the same way from their own records, without `run`.

Paired design: runs with the same seed see the same data order (it is a function of
seed and epoch only), so the initializer is the only difference within a seed.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable

from initcmp import checkpoints, fused, recorded, records, train
from initcmp.progress import Reporter
from initcmp.config import Config
from initcmp.config_load import for_run
from initcmp.data import Dataset
from initcmp.records import RunPaths


def plan(cfg: Config) -> list[Config]:
    """The runs of a comparison, initializer-major: random-s0, random-s1, ..., he-s2."""
    return [run for init in cfg.compare.inits for run in _with_each_seed(cfg, init)]


def _with_each_seed(cfg: Config, init: str) -> list[Config]:
    # for_run resolves and checks the initializer once; the seeds (already checked)
    # then differ in `seed` alone, so --seeds 1000 plans in milliseconds, not seconds.
    first = for_run(cfg, init, cfg.compare.seeds[0])
    return [dataclasses.replace(first, seed=seed) for seed in cfg.compare.seeds]


def run(
    cfg: Config,
    load_data: Callable[[], Dataset],
    *,
    checkpoint_root: str | Path = "checkpoints",
    log_root: str | Path = "logs",
    fresh: bool = False,
    reporter: Reporter | None = None,
) -> list[dict]:
    """Train every run of the plan that has not finished; return `collect`'s records.

    Finished runs are read from their records (no TensorFlow, no data), interrupted ones
    resume from their checkpoint, and a diverged run is recorded and passed over. Data
    is loaded once, and only if something needs training. With `compare.fuse` the runs
    train together in stacks (fused.py), each to the same bits as alone.
    """
    reporter = reporter or Reporter()
    if cfg.compare.executor == "ray":  # no Ray: one line, before anything is said or read
        from initcmp import distributed

        distributed.require_ray()
    reporter.compare_start(cfg, len(cfg.compare.inits) * len(cfg.compare.seeds))
    runs = plan(cfg)
    todo = []
    for run_cfg in runs:
        paths = RunPaths.of(run_cfg, checkpoint_root, log_root)
        with records.RunLock(paths):  # --fresh never deletes a run another process holds
            checkpoints.resume_rules(run_cfg, paths, fresh)
        done = records.finished(run_cfg, paths)
        if done:
            reporter.skipped(run_cfg, done)
        else:
            todo.append(run_cfg)
    if todo and cfg.compare.executor == "ray":
        from initcmp import distributed

        reporter.compare_plan(len(runs) - len(todo), len(todo), None)
        distributed.run(
            cfg, todo, checkpoint_root=checkpoint_root, log_root=log_root, reporter=reporter
        )
    elif todo:
        dataset = load_data()
        left = sum(_steps_left(c, len(dataset.y_train), checkpoint_root, log_root) for c in todo)
        reporter.compare_plan(len(runs) - len(todo), len(todo), left)
        # One stack at a time, as run_many would group them: the first steps start at
        # once and only one stack of models is in memory, however many seeds.
        for stack in _stacks(todo, cfg.compare.fuse, checkpoint_root, log_root):
            train.run_many(
                stack,
                dataset,
                checkpoint_root=checkpoint_root,
                log_root=log_root,
                fuse=cfg.compare.fuse,
                reporter=reporter,
            )
    else:
        reporter.compare_plan(len(runs), 0, 0)
    return collect(cfg, checkpoint_root, log_root)


def _saved_step(cfg: Config, checkpoint_root, log_root) -> int:
    """The step a run resumes from, from its checkpoints' file names (no TensorFlow)."""
    return records.trained_steps(RunPaths.of(cfg, checkpoint_root, log_root), None)


def _steps_left(cfg: Config, train_size: int, checkpoint_root, log_root) -> int:
    total = math.ceil(train_size / cfg.train.batch_size) * cfg.train.epochs
    return max(total - _saved_step(cfg, checkpoint_root, log_root), 0)


def _stacks(todo: list[Config], fuse: bool, checkpoint_root, log_root) -> list[list[Config]]:
    """The runs that train together: with `fuse`, those at the same step that differ only
    in init and seed, at most fused.MAX_RUNS (train.run_many's own grouping); else one."""
    if not fuse:
        return [[c] for c in todo]

    def key(cfg: Config) -> str:
        return fused.stack_key(_saved_step(cfg, checkpoint_root, log_root), cfg)

    return fused.groups(todo, key)


def collect(
    cfg: Config, checkpoint_root: str | Path = "checkpoints", log_root: str | Path = "logs"
) -> list[dict]:
    """One record per finished run of the plan, read at `cfg.train.epochs` (a run that
    trained further, from its metrics): its result plus its test-accuracy curve. Runs
    that have not got there are left out (the report says how many are missing)."""
    found = (recorded.record(c, RunPaths.of(c, checkpoint_root, log_root)) for c in plan(cfg))
    return [rec for rec in found if rec is not None]


def summarise(
    cfg: Config, checkpoint_root: str | Path = "checkpoints", log_root: str | Path = "logs"
) -> recorded.Outcome:
    """`stats.summarise` over the finished runs of the plan, with `missing_runs`, and the
    records, for the plot (recorded.outcome). No finished run at all is an error."""
    planned = [(c, RunPaths.of(c, checkpoint_root, log_root)) for c in plan(cfg)]
    return recorded.outcome(cfg.name, planned, list(cfg.compare.inits), cfg.train.epochs)


def experiment_folder(cfg: Config, log_root: str | Path = "logs") -> Path:
    """Where the comparison's table, files and plot go: beside its runs' logs."""
    return Path(log_root) / cfg.name
