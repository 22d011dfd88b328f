"""Training. `run(cfg, data, ...)` is the one function the CLI, `compare` and the tests
all call; it takes its data as an argument, so tests never download.

Determinism: op determinism is on, every kernel has its own seed, the epoch order is a
function of (seed, epoch), and the running train-loss sums live in the checkpoint, so a
rerun after any interruption ends with the same weights and the same metrics. A Ctrl-C
takes effect between two blocks of steps (`interrupts_between_blocks`), so the
checkpoint it saves holds a step whose logging, evaluation and records are complete.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np

from initcmp.engine import batches
from initcmp.engine import checkpoints
from initcmp.engine import faults
from initcmp.engine import fused
from initcmp.engine import memory
from initcmp.store import records
from initcmp.engine import runtime
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset
from initcmp.errors import Interrupted, RunInUseError
from initcmp.engine.reporter import Reporter
from initcmp.store.records import RunPaths
from initcmp.engine.run_state import Run


def run(
    cfg: Config,
    data: Dataset,
    *,
    checkpoint_root: str | Path = "checkpoints",
    log_root: str | Path = "logs",
    fresh: bool = False,
    reporter: Reporter | None = None,
) -> dict:
    """Train one run to its budget (`train.epochs`, or `train.steps`), resuming its own
    checkpoint if there is one."""
    return run_many(
        [cfg],
        data,
        checkpoint_root=checkpoint_root,
        log_root=log_root,
        fresh=fresh,
        reporter=reporter,
    )[0]


def run_many(
    cfgs: list[Config],
    data: Dataset,
    *,
    checkpoint_root: str | Path = "checkpoints",
    log_root: str | Path = "logs",
    fresh: bool = False,
    fuse: bool = True,
    reporter: Reporter | None = None,
    held: list[Config] | None = None,
    engine: fused.Engine | None = None,
    evaluate_at_start: bool = True,
) -> list[dict | None]:
    """Train several runs, each exactly as `run` would (same folders, same bits).

    With `fuse`, runs that differ only in init and seed and stand at the same step are
    trained together in one stack (fused.Engine.stacks); otherwise one by one. Returns
    the results in the order of `cfgs`. A run another process holds is an error
    (RunInUseError), or, given a `held` list, is appended to it and passed over (its
    result None). `engine`: the caller's, to share its last stack with runs of its shape
    (the process's, `fused.Engine.default()`, if None). `evaluate_at_start`: False leaves
    out a new run's step-0 evaluation (TensorBoard's first test point) whatever
    `eval.at_start` says; the tests show it changes nothing else.
    """
    runtime.tensorflow()
    engine = engine or fused.Engine.default()
    memory.check(memory.training(cfgs, fuse, data, engine))  # what cannot fit is refused now
    reporter = reporter or Reporter()
    results: dict[int, dict] = {}
    todo: list[Run] = []
    with contextlib.ExitStack() as locks:  # every run this call touches, until it returns
        for index, cfg in enumerate(cfgs):
            paths = RunPaths.of(cfg, checkpoint_root, log_root)
            try:
                locks.enter_context(records.RunLock(paths))
            except RunInUseError:
                if held is None:
                    raise
                held.append(cfg)
                results[index] = None
                continue
            checkpoints.resume_rules(cfg, paths, fresh)
            done = records.finished(cfg, paths)
            if done:  # its record is its result
                reporter.start([cfg], done["step"], done["step"], data.source)
                results[index] = {**done, "resumed_from_step": done["step"]}
            else:
                todo.append(Run(cfg, data, paths, index))
        stacks = engine.stacks(todo, fuse, config=lambda r: r.cfg, start=lambda r: r.start)
        del todo  # a stack's runs are let go once it is done: runtime.release frees them
        while stacks:
            results.update(
                _train_stack(stacks.pop(0), data, reporter, fresh, engine, evaluate_at_start)
            )
            if stacks:  # between stacks only: a process's last stack is freed at its exit
                runtime.release()
            faults.point("group")
    return [results[i] for i in range(len(cfgs))]


def _train_stack(
    runs: list[Run], data: Dataset, reporter: Reporter, fresh: bool, engine, at_start: bool
) -> dict:
    """{index in the caller's list: result} of runs trained together."""
    results = _train_together(runs, data, reporter, engine, fresh, at_start)
    return {r.index: result for r, result in zip(runs, results)}


def due(step: int, every: int | None, always: bool = False) -> bool:
    """Is it time? Every `every` steps (never if None), and whenever `always`."""
    return always or (every is not None and step % every == 0)


def block_lengths(start: int, stop: int, cadences, most: int) -> list[int]:
    """The steps of each compiled call from global step `start` to `stop`: a call
    ends where a stage is due (a multiple of any cadence that is not None) and runs at
    most `most` steps, so the loop below sees every step at which `due` holds."""
    lengths = []
    while start < stop:
        end = min([stop, start + most] + [(start // c + 1) * c for c in cadences if c])
        lengths.append(end - start)
        start = end
    return lengths


def _train_together(
    runs: list[Run],
    data: Dataset,
    reporter: Reporter,
    engine: fused.Engine,
    fresh: bool = False,
    at_start: bool = True,
) -> list[dict]:
    """Train runs that stand at the same step as one stack; each keeps its own records,
    checkpoints, divergence and result, exactly as if it had trained alone."""
    group = _Group(runs, data, reporter, engine, at_start)
    cfg, per_epoch, step, total = group.cfg, group.steps_per_epoch, group.start, group.total
    with interrupts_between_blocks() as interrupted:
        try:
            for epoch in range(step // per_epoch, math.ceil(total / per_epoch)):
                for idx, counts, n in group.blocks(epoch, step):
                    interrupted.check()
                    group.stack.train_steps(idx, counts, n)  # n steps, one compiled call
                    step += int(n)
                    faults.point("step", int(n))
                    epoch_end = step % per_epoch == 0
                    end = epoch_end or step == total  # a step budget may end mid-epoch
                    # Log, evaluate, checkpoint, in that order, at multiples of the global step.
                    if due(step, cfg.log.every_steps, end):
                        group.log(step)  # a run whose loss is NaN or inf leaves the group here
                        if not group.live:
                            break
                    if due(step, cfg.eval.every_steps, end):
                        group.evaluate(step)
                    if due(step, cfg.checkpoint.every_steps, end):
                        group.checkpoint()
                    if epoch_end:
                        group.end_epoch(epoch + 1)
                    if step == total:
                        break
                if not group.live:
                    break
        except KeyboardInterrupt:
            group.checkpoint()
            raise Interrupted(  # its hint: rerun, without --fresh if the call had it
                f"interrupted at step {int(group.stack.step.numpy())} of {group.total}; "
                "checkpoint saved",
                resume=True,
                fresh=fresh,
            ) from None
        return group.finish(step)


class interrupts_between_blocks(contextlib.AbstractContextManager):
    """Ctrl-C (SIGINT) while runs train is held until `check()`, at the start of the next
    block of steps: a block's logging, evaluation, records and checkpoint are never cut
    in two, so the checkpoint saved on the way out holds a step whose stages are all
    done, and the rerun continues exactly where an uninterrupted run would. A Ctrl-C
    held when the stack ends is raised once its results are written; one held while
    that checkpoint is saved is dropped (a second Ctrl-C does not cut it short). Only in
    the main thread, and only over a handler that raises (Python's default, or a
    worker's); otherwise the handler in place is left alone."""

    def __init__(self):
        self.pending = False
        self._previous = None

    def __enter__(self):
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is threading.main_thread() and callable(previous):
            self._previous = previous
            signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        self.pending = True

    def check(self) -> None:
        if self.pending:
            raise KeyboardInterrupt

    def __exit__(self, kind, exc, tb):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if kind is None:
            self.check()
        return None


class _Group:
    """Runs training together: their stack, which of them are still training (by slot
    in the stack), the clock, and each stage of the loop for all of them."""

    def __init__(
        self,
        runs: list[Run],
        data: Dataset,
        reporter: Reporter,
        engine: fused.Engine,
        at_start: bool = True,  # run_many's evaluate_at_start
    ):
        first = runs[0]
        self.cfg, self.start, self.total = first.cfg, first.start, first.total
        self.steps_per_epoch = first.steps_per_epoch
        self.runs, self.data, self.reporter = runs, data, reporter
        reporter.start([r.cfg for r in runs], self.total, self.start, data.source)
        for r in runs:
            for line in r.notes:
                reporter.note(line)
        self.block_steps = engine.block_steps
        self.stack = engine.stack(self.cfg, [(r.model, r.optimizer) for r in runs], data)
        self.stack.load(self.start, np.stack([r.state.sums.numpy() for r in runs]))
        if self.start == 0 and at_start and self.cfg.eval.at_start:
            self.evaluate_at_start()
        self.live = dict(enumerate(runs))
        self.results: dict[int, dict] = {}
        self._clock = time.perf_counter()

    def evaluate_at_start(self) -> None:
        """Step 0's test loss and accuracy, for TensorBoard's curves (Run.log_initial):
        one evaluation of the stack, which reads the weights and changes nothing."""
        for run, metrics in zip(self.runs, self.stack.evaluate()):
            run.log_initial(metrics)

    def seconds(self) -> float:
        return time.perf_counter() - self._clock

    def blocks(self, epoch: int, step: int):
        """The rest of `epoch`'s batches from global `step`, for every run at once, in
        blocks that end wherever a stage of the loop is due (block_lengths)."""
        orders = np.stack(
            [batches.epoch_order(len(self.data.y_train), r.cfg.seed, epoch) for r in self.runs]
        )
        cfg, first = self.cfg, epoch * self.steps_per_epoch
        stop = min(first + self.steps_per_epoch, self.total)
        cadences = (cfg.log.every_steps, cfg.eval.every_steps, cfg.checkpoint.every_steps)
        lengths = block_lengths(step, stop, cadences, self.block_steps)
        return batches.epoch_blocks(
            orders, cfg.train.batch_size, step - first, lengths, self.block_steps
        )

    def log(self, step: int) -> None:
        """Train metrics since the last log point; a run that diverged is evaluated as
        it is now, recorded as diverged, and leaves the group."""
        sums = self.stack.read_sums()
        for slot, r in self.live.items():
            r.log_train(sums[slot], step)
        self.reporter.progress(
            step, [{"run": r.cfg.run_name, **r.last} for r in self.live.values()]
        )
        diverged = [
            slot for slot, r in self.live.items() if not math.isfinite(r.last["train_loss"])
        ]
        if diverged:
            evals = self.stack.evaluate()
            for slot in diverged:
                self.live[slot].last.update(evals[slot])
                self.live[slot].diverged_step = step
                self._finish(slot, step)

    def evaluate(self, step: int) -> None:
        evals = self.stack.evaluate()
        faults.point("evaluate")
        for slot, r in self.live.items():
            r.record_evaluation(step, evals[slot], self.seconds())
            faults.point("metrics")

    def checkpoint(self) -> None:
        for slot, r in self.live.items():
            r.save(self.stack, slot, self.seconds())

    def end_epoch(self, epoch: int) -> None:
        step = int(self.stack.step.numpy())
        for r in self.live.values():
            r.write_signal(step)  # after the checkpoint: the model holds this step's weights
            self.reporter.epoch_end(r.epoch_line(epoch))

    def _finish(self, slot: int, step: int) -> None:
        self.results[slot] = self.live.pop(slot).result(
            self.stack, slot, step, self.seconds(), self.data.source
        )
        self.reporter.finish(self.results[slot])

    def finish(self, step: int) -> list[dict]:
        """Every run still training ends here; the results in the order of the runs."""
        for slot in list(self.live):
            self._finish(slot, step)
        return [self.results[i] for i in range(len(self.runs))]
