"""Train an experiment's runs that have not finished: the one engine under `compare` and
`sweep`, given the list of runs their plans make.

Finished runs are read from their records (no TensorFlow, no data), interrupted ones
resume from their checkpoint, and a diverged run is recorded and passed over. Data is
loaded once, and only if something needs training. With `compare.fuse`, runs that
agree on everything but init and seed, and stand at the same step, train together in
stacks (engine/fused.py), each to the same bits as alone, one stack at a time; with
`compare.executor: ray`, the stacks are Ray tasks (experiments/on_ray.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from initcmp.engine import checkpoints
from initcmp.engine import fused
from initcmp.store import records
from initcmp.engine import runtime
from initcmp.engine import train
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset
from initcmp.errors import RunInUseError
from initcmp.engine.reporter import Reporter
from initcmp.store.records import RunPaths


def train_missing(
    cfg: Config,
    runs: list[Config],
    load_data: Callable[[], Dataset],
    *,
    shape: str,
    checkpoint_root: str | Path = "checkpoints",
    log_root: str | Path = "logs",
    fresh: bool = False,
    reporter: Reporter | None = None,
) -> None:
    """Train every run of `runs` (an experiment `cfg`'s plan, `shape` in words for the
    progress display: `3 initializers x 3 seeds`) that has not finished."""
    reporter = reporter or Reporter()
    if cfg.compare.executor == "ray":  # no Ray: one line, before anything is said or read
        from initcmp.experiments import on_ray

        on_ray.require_ray()
    reporter.compare_start(cfg, len(runs), shape)
    todo, elsewhere = [], []
    for run_cfg in runs:
        paths = RunPaths.of(run_cfg, checkpoint_root, log_root)
        try:
            with records.RunLock(paths):  # --fresh never deletes a run another process holds
                checkpoints.resume_rules(run_cfg, paths, fresh)
        except RunInUseError:  # another process (a sweep sharing this run) trains it now
            elsewhere.append(run_cfg)
            continue
        done = records.finished(run_cfg, paths)
        if done:
            reporter.skipped(run_cfg, done)
        else:
            todo.append(run_cfg)
    finished = len(runs) - len(todo) - len(elsewhere)
    _train(cfg, finished, todo, load_data, checkpoint_root, log_root, reporter, elsewhere)
    # The runs another process held: wait for it to let go, then read them, or train
    # what it left unfinished (it was killed) here. No run is ever trained twice.
    left = []
    for run_cfg in elsewhere:
        paths = RunPaths.of(run_cfg, checkpoint_root, log_root)
        holder = records.RunLock(paths).holder() or "unknown"
        reporter.note(f"{run_cfg.run_name}: in use by process {holder}; waiting for it")
        records.RunLock(paths).acquire(wait=True).release()
        done = records.finished(run_cfg, paths)
        if done:
            reporter.skipped(run_cfg, done)
        else:
            left.append(run_cfg)
    if left:
        _train(cfg, len(runs) - len(left), left, load_data, checkpoint_root, log_root, reporter)


def _train(cfg, finished, todo, load_data, checkpoint_root, log_root, reporter, held=None):
    """Train `todo` (`finished` runs of the plan were read from their records); runs
    another process holds by then go to `held`, if given."""
    if todo and cfg.compare.executor == "ray":
        from initcmp.experiments import on_ray

        reporter.compare_plan(finished, len(todo), None)
        on_ray.run(cfg, todo, checkpoint_root=checkpoint_root, log_root=log_root, reporter=reporter)
    elif todo:
        dataset = load_data()
        size = len(dataset.y_train)
        left = [
            max(c.train.total_steps(size) - saved_step(c, checkpoint_root, log_root), 0)
            for c in todo
        ]
        work = sum(n * c.model.weights() for n, c in zip(left, todo))  # deeper: slower
        reporter.compare_plan(finished, len(todo), sum(left), work)
        # One stack at a time, as run_many would group them: the first steps start at
        # once and only one stack of models is in memory, however many runs.
        for i, stack in enumerate(stacks(todo, cfg.compare.fuse, checkpoint_root, log_root)):
            if i:
                runtime.release()  # the stack before this one (train.run_many frees its own)
            train.run_many(
                stack,
                dataset,
                checkpoint_root=checkpoint_root,
                log_root=log_root,
                fuse=cfg.compare.fuse,
                reporter=reporter,
                held=held,
            )
    else:
        reporter.compare_plan(finished, 0, 0)


def saved_step(cfg: Config, checkpoint_root, log_root) -> int:
    """The step a run resumes from, from its checkpoints' file names (no TensorFlow)."""
    return records.trained_steps(RunPaths.of(cfg, checkpoint_root, log_root), None)


def stacks(todo: list[Config], fuse: bool, checkpoint_root, log_root) -> list[list[Config]]:
    """The runs that train together: with `fuse`, those at the same step that differ only
    in init and seed, at most fused.MAX_RUNS (train.run_many's own grouping); else one."""
    if not fuse:
        return [[c] for c in todo]

    def key(cfg: Config) -> str:
        return fused.stack_key(saved_step(cfg, checkpoint_root, log_root), cfg)

    return fused.groups(todo, key)
