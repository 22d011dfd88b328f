"""What a person sees while runs train. `ConsoleReporter` draws what the library tells
its caller (engine/reporter.py's `Reporter`): rich progress bars on stderr (the
comparison's runs, and the current run's steps) and one fixed-format line per epoch.
stdout stays free for results and `--json`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from initcmp.engine.reporter import Reporter
from initcmp import text


class ConsoleReporter(Reporter):
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            _TimeLeft(),
            console=self.console,
            transient=True,
        )
        self._runs = None
        self._source = None
        self._name, self._pace = "", None
        # The stacks training now, by the names of their runs: several at once when
        # worker processes train them (experiments/workers.py).
        self._groups: dict[str, _Group] = {}
        self._steps_total = self._steps_done = 0
        self._weighted = False

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()

    def say(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    def compare_start(self, cfg, runs, shape):
        self._name = cfg.name
        self.say(f"{cfg.name}: {text.plural(runs, 'run')} ({shape}); reading their records")
        self._runs = self._progress.add_task("runs", total=runs, metrics="", left="-:--:--")

    def compare_plan(self, finished, to_train, steps, work=None):
        line = f"{self._name}: {finished} already finished, {to_train} to train"
        self.say(line + (f", {steps:,} steps in all" if steps else ""))
        # The pace of the work (steps x weights: a deeper run's step takes longer), shown
        # as steps; without `work`, each step counts the same.
        self._pace = Pace(work or steps) if steps else None
        self._steps_total, self._steps_done, self._weighted = steps or 0, 0, bool(work)

    def skipped(self, cfg, result):
        state = "diverged" if result.get("diverged") else f"{result['test_accuracy']:.2%}"
        self.say(f"{cfg.name}/{cfg.run_name}: finished earlier ({state})")
        self._advance_runs()

    def start(self, cfgs, total_steps, resumed_from_step, source):
        left = self._pace.seconds_left() if self._pace else None
        if left is not None:  # timed on the groups before this one
            self.say(
                f"{self._name}: about {clock(left)} left in all "
                f"({self._steps_total - self._steps_done:,} of {self._steps_total:,} steps)"
            )
        if self._pace:
            self._pace.begin()
        if source != self._source:
            self.say(f"data: {source}")
            self._source = source
        label = f"{cfgs[0].name}/{cfgs[0].run_name}"
        if len(cfgs) > 1:
            label = f"{cfgs[0].name}: {len(cfgs)} runs"
            self.say(
                f"{label} together in one compiled step: " + ", ".join(c.run_name for c in cfgs)
            )
        if resumed_from_step >= total_steps:
            self.say(f"{label}: already finished at step {resumed_from_step}")
        elif resumed_from_step:
            self.say(f"{label}: resuming from step {resumed_from_step}")
        else:
            self.say(f"{label}: training {total_steps} steps")
        bar = self._progress.add_task(
            label, total=total_steps, completed=resumed_from_step, metrics=""
        )
        # one stack, one shape: its cost per step is its runs' weights
        group = _Group(bar, resumed_from_step, total_steps, cfgs[0].model.weights(), len(cfgs))
        self._groups.update(dict.fromkeys((c.run_name for c in cfgs), group))
        if self._runs is not None:  # runs done (the bar), training now, and left
            training = sum(g.runs for g in set(self._groups.values()))
            self._progress.update(self._runs, description=f"runs ({training} training)")

    def progress(self, step, metrics):
        group = self._groups.get(metrics[0]["run"]) if metrics else None
        if group is None:
            return
        if len(metrics) == 1:
            text = f"loss {metrics[0]['train_loss']:.4f} acc {metrics[0]['train_accuracy']:.2%}"
        else:
            accuracies = [m["train_accuracy"] for m in metrics]
            text = f"train acc {min(accuracies):.1%} to {max(accuracies):.1%}"
        self._progress.update(group.bar, completed=step, metrics=text)
        if self._pace:  # every run of the group trained the steps since the last call
            steps = (step - group.step) * len(metrics)
            self._steps_done += steps
            self._pace.advance(steps * group.cost if self._weighted else steps)
            left = self._pace.seconds_left()
            if left is not None and self._runs is not None:
                self._progress.update(self._runs, left=clock(left))
        group.step = step

    def note(self, line):
        self.say(line)

    def epoch_end(self, line):
        self.say(line)

    def finish(self, result):
        group = self._groups.pop(Path(result.get("log_dir", "")).name, None)
        if group is not None:
            if self._pace and result.get("diverged"):  # the steps it will never train
                never = group.total - result["step"]
                self._steps_total -= never
                self._pace.drop(never * group.cost if self._weighted else never)
            group.runs -= 1
            if not group.runs:  # the stack's last run: its bar goes
                self._progress.remove_task(group.bar)
        self._advance_runs()

    def _advance_runs(self):
        if self._runs is not None:
            self._progress.advance(self._runs)


@dataclass(eq=False)  # one object per stack, in a set by identity
class _Group:
    """A stack training now: its steps bar, the step it has reached, its budget, its
    cost per step (weights) and its runs still training."""

    bar: TaskID
    step: int
    total: int
    cost: int
    runs: int


class Pace:
    """A comparison's pace: the steps of all its runs trained per second since its first
    stack started, and the time that makes of all the steps left. The first stack's
    compilation is counted as every later stack's is (a sweep's stacks each compile
    their own shape): timed from the first steps instead, the estimate after the first
    stack of `sweep --config edge_of_chaos` read 84 s for 101 s left (2 workers, 2-core
    AMD EPYC), as the second worker's first steps fell before the clock started.
    `clock` is for tests."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.done, self._clock = total, 0, clock
        self._since: tuple[float, int] | None = None

    @property
    def left(self) -> int:
        return max(self.total - self.done, 0)

    def begin(self) -> None:
        """A stack starts: the first one starts the clock."""
        if self._since is None:
            self._since = (self._clock(), self.done)

    def advance(self, steps: int) -> None:
        self.done += steps

    def drop(self, steps: int) -> None:
        """Steps that will not be trained after all (a run diverged)."""
        self.total -= steps

    def seconds_left(self) -> float | None:
        """None until some steps have been timed."""
        if self._since is None or self.done == self._since[1]:
            return None
        start, done = self._since
        elapsed = self._clock() - start
        return self.left * elapsed / (self.done - done) if elapsed > 0 else None


def clock(seconds: float) -> str:
    """H:MM:SS, as rich writes a time."""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


class _TimeLeft(TimeRemainingColumn):
    """rich's estimate for a run's steps; on the runs bar, the whole comparison's time
    left (`Pace`): all remaining steps of all remaining runs."""

    def render(self, task):
        if "left" in task.fields:
            return Text(task.fields["left"], style="progress.remaining")
        return super().render(task)
