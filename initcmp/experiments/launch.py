"""Train an experiment's runs that have not finished: the one launcher under `compare` and
`sweep`, given the list of runs their plans make.

Finished runs are read from their records (no TensorFlow, no data), interrupted ones
resume from their checkpoint, and a diverged run is recorded and passed over. The runs
left are cut into stacks by the engine's one rule (`fused.Engine.stacks`: with
`compare.fuse`, runs that agree on everything but init and seed and stand at the same
step train together, each to the same bits as alone), and the stacks go to the launcher
that `compare.executor` names: `local` trains them on this machine, in this process
one at a time or in `compare.workers` processes at once (workers.py: by default a
sweep's stacks, one process a core, as memory allows); `ray` sends each to a Ray task
(on_ray.py). A sweeper plans, a launcher runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from initcmp.config.schema import Config
from initcmp.data.sources import Dataset
from initcmp.engine import checkpoints, fused, memory, runtime, train
from initcmp.experiments import cost, workers
from initcmp.engine.reporter import Reporter
from initcmp.errors import RunInUseError
from initcmp.store import records
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
    sweep: bool = False,
) -> None:
    """Train every run of `runs` (an experiment `cfg`'s plan, `shape` in words for the
    progress display: `3 initializers x 3 seeds`) that has not finished. `sweep`: the
    plan is a sweep's (the local executor then trains stacks in worker processes unless
    `compare.workers` says otherwise)."""
    reporter = reporter or Reporter()
    launcher = LAUNCHERS[cfg.compare.executor](cfg, checkpoint_root, log_root, reporter)
    launcher.sweep = sweep
    launcher.check()  # e.g. no Ray: one line, before anything is said or read
    reporter.compare_start(cfg, len(runs), shape)
    todo, elsewhere = [], []
    for run_cfg in runs:
        paths = RunPaths.of(run_cfg, checkpoint_root, log_root)
        try:
            with records.RunLock(paths):  # --fresh never deletes a run another process holds
                checkpoints.resume_rules(run_cfg, paths, fresh)
        except RunInUseError as in_use:  # another process (a sweep sharing it) trains it now
            elsewhere.append((run_cfg, in_use.holder))
            continue
        done = records.finished(run_cfg, paths)
        if done:
            reporter.skipped(run_cfg, done)
        else:
            todo.append(run_cfg)
    held: list[Config] = []  # runs found held by the time their stack trains
    launcher.launch(len(runs) - len(todo) - len(elsewhere), todo, load_data, held=held)
    elsewhere += [(run_cfg, None) for run_cfg in held]
    # The runs another process held: wait for it to let go, then read them, or train
    # what it left unfinished (it was killed) here. No run is ever trained twice.
    left = []
    for run_cfg, first_holder in elsewhere:
        paths = RunPaths.of(run_cfg, checkpoint_root, log_root)
        holder = records.RunLock(paths).holder()  # None: it has let go meanwhile
        if holder is not None:
            if holder == "unknown":  # its PID not written yet: the one the lock first gave
                holder = first_holder or holder
            reporter.note(f"{run_cfg.run_name}: in use by process {holder}; waiting for it")
        records.RunLock(paths).acquire(wait=True).release()
        done = records.finished(run_cfg, paths)
        if done:
            reporter.skipped(run_cfg, done)
        else:
            left.append(run_cfg)
    if left:
        launcher.launch(len(runs) - len(left), left, load_data)


def saved_step(cfg: Config, checkpoint_root, log_root) -> int:
    """The step a run resumes from, from its checkpoints' file names (no TensorFlow)."""
    return records.trained_steps(RunPaths.of(cfg, checkpoint_root, log_root), None)


def stacks(
    todo: list[Config], fuse: bool, checkpoint_root, log_root, engine: fused.Engine | None = None
) -> list[list[Config]]:
    """The stacks `todo` trains in, each run at the step it resumes from: the engine's
    one rule (`train.run_many` applies the same one to what it is given)."""
    start = lambda cfg: saved_step(cfg, checkpoint_root, log_root)  # noqa: E731
    return (engine or fused.Engine()).stacks(todo, fuse, start=start)


class Launcher:
    """Where an experiment's stacks train. `check` runs before anything is said or read;
    `launch` trains the unfinished runs `todo` (`finished` runs of the plan were read
    from their records) and tells the reporter the plan first."""

    sweep = False  # the plan is a sweep's

    def __init__(self, cfg: Config, checkpoint_root, log_root, reporter: Reporter):
        self.cfg, self.reporter = cfg, reporter
        self.roots = {"checkpoint_root": checkpoint_root, "log_root": log_root}
        self.engine = fused.Engine()  # one for all of the experiment's stacks

    def check(self) -> None:
        pass

    def launch(self, finished: int, todo: list[Config], load_data, held=None) -> None:
        raise NotImplementedError


class LocalLauncher(Launcher):
    """The stacks on this machine: in this process, one at a time (the first steps start
    at once and only one stack of models is in memory, however many runs; stacks of one
    shape share the engine's one compiled program), or in `workers` processes at once
    (experiments/workers.py), each stack as this process would train it."""

    def launch(self, finished: int, todo: list[Config], load_data, held=None) -> None:
        """Runs another process holds by the time their stack trains go to `held`."""
        if not todo:
            self.reporter.compare_plan(finished, 0, 0)
            return
        dataset = load_data()
        size = len(dataset.y_train)
        left = [max(c.train.total_steps(size) - saved_step(c, **self.roots), 0) for c in todo]
        work = sum(n * c.model.weights() for n, c in zip(left, todo))  # deeper: slower
        self.reporter.compare_plan(finished, len(todo), sum(left), work)
        fuse = self.cfg.compare.fuse
        work = stacks(todo, fuse, **self.roots, engine=self.engine)
        count = self.workers(work, dataset)
        if count > 1:
            by_run = {id(c): n * c.model.weights() for n, c in zip(left, todo)}
            sizes = [sum(by_run[id(c)] for c in stack) for stack in work]
            self.reporter.note(
                f"{self.cfg.name}: {len(work)} stacks in {count} worker processes "
                f"({_threads(count)} each)"
            )
            workers.run(
                work, sizes, count, **self.roots, fuse=fuse, reporter=self.reporter, held=held
            )
            return
        for i, stack in enumerate(work):
            if i:
                runtime.release()  # the stack before this one (train.run_many frees its own)
            train.run_many(
                stack,
                dataset,
                **self.roots,
                fuse=fuse,
                reporter=self.reporter,
                held=held,
                engine=self.engine,
            )

    def workers(self, work: list[list[Config]], dataset) -> int:
        """How many processes train `work`: `compare.workers`, or by default one a core
        for a sweep (one for a comparison), never more than the stacks, and as many as
        memory holds: each worker is a TensorFlow process of its own with its stack
        (memory.worker). Asked for more than fit, the same one line as any other need
        that does not fit."""
        asked = self.cfg.compare.workers
        count = min(asked or (workers.cores() if self.sweep else 1), len(work))
        if count <= 1:
            return 1
        if not asked and cost.of_runs([c for s in work for c in s]).seconds() < WORTH_A_WORKER:
            return 1  # a short sweep: a second process would cost more than it saves
        fuse = self.cfg.compare.fuse
        need = max((memory.worker(s, fuse, dataset) for s in work), key=lambda n: n.total)
        if asked:
            memory.check(memory.workers(need, count))
            return count
        free = memory.available()
        if free is not None and not memory.gpu():
            count = max(1, min(count, int(free // need.total)))
        return count


# The estimated training (experiments/cost.py) below which a sweep stays in one process by
# default: each worker starts TensorFlow, reads the data and compiles its own steps, about
# 10 s on a 2-core AMD EPYC (Zen 5), which a short sweep would not win back.
WORTH_A_WORKER = 60.0


def _threads(count: int) -> str:
    n = max(1, workers.cores() // count)
    return f"{n} thread{'s' if n > 1 else ''}"


class RayLauncher(Launcher):
    """Each stack a Ray task, on this machine or a cluster (on_ray.py); the data is
    loaded on the workers, so the driver never loads it."""

    def check(self) -> None:
        from initcmp.experiments import on_ray

        on_ray.require_ray()

    def launch(self, finished: int, todo: list[Config], load_data, held=None) -> None:
        from initcmp.experiments import on_ray

        if not todo:
            self.reporter.compare_plan(finished, 0, 0)
            return
        self.reporter.compare_plan(finished, len(todo), None)
        work = stacks(todo, self.cfg.compare.fuse, **self.roots, engine=self.engine)
        on_ray.run(self.cfg, work, **self.roots, reporter=self.reporter)


# The launchers by the name `compare.executor` gives.
LAUNCHERS = {"local": LocalLauncher, "ray": RayLauncher}
