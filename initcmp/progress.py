"""What a person sees while runs train. `Reporter` is what the library tells its caller
(no-ops by default); `ConsoleReporter` draws it: rich progress bars on stderr (the
comparison's runs, and the current run's steps) and one fixed-format line per epoch.
stdout stays free for results and `--json`."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from initcmp.config import Config


class Reporter:
    """What a caller sees of runs while they train. The CLI draws with `ConsoleReporter`;
    these no-ops are the library's default, which prints nothing. `compare_start` and
    `skipped` come from a comparison; `start` and `progress` from each group of runs
    trained together (a run alone is a group of one); `note`, `epoch_end` and `finish`
    from each run."""

    def compare_start(self, runs: int): ...
    def skipped(self, cfg: Config, result: dict): ...
    def start(self, cfgs: list[Config], total_steps: int, resumed_from_step: int, source: str): ...
    def progress(self, step: int, metrics: list[dict]): ...
    def note(self, line: str): ...
    def epoch_end(self, line: str): ...
    def finish(self, result: dict): ...


class ConsoleReporter(Reporter):
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._runs = self._steps = None
        self._source = None

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()

    def say(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    def compare_start(self, runs):
        self._runs = self._progress.add_task("runs", total=runs, metrics="")

    def skipped(self, cfg, result):
        state = "diverged" if result.get("diverged") else f"{result['test_accuracy']:.2%}"
        self.say(f"{cfg.name}/{cfg.run_name}: finished earlier ({state})")
        self._advance_runs()

    def start(self, cfgs, total_steps, resumed_from_step, source):
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
        if self._steps is not None:
            self._progress.remove_task(self._steps)
        self._steps = self._progress.add_task(
            label, total=total_steps, completed=resumed_from_step, metrics=""
        )

    def progress(self, step, metrics):
        if len(metrics) == 1:
            text = f"loss {metrics[0]['train_loss']:.4f} acc {metrics[0]['train_accuracy']:.2%}"
        else:
            accuracies = [m["train_accuracy"] for m in metrics]
            text = f"train acc {min(accuracies):.1%} to {max(accuracies):.1%}"
        self._progress.update(self._steps, completed=step, metrics=text)

    def note(self, line):
        self.say(line)

    def epoch_end(self, line):
        self.say(line)

    def finish(self, result):
        self._advance_runs()

    def _advance_runs(self):
        if self._runs is not None:
            self._progress.advance(self._runs)
