"""What a person sees on the terminal while runs train: a rich progress bar on stderr,
one fixed-format line per epoch. stdout stays free for results (and `--json`)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from initcmp.train import Reporter


class ConsoleReporter(Reporter):
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=True)
        self._task = None

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()

    def start(self, cfg, total_steps, resumed_from_step, source):
        self.console.print(f"data: {source}", soft_wrap=True, highlight=False)
        run = f"{cfg.name}/{cfg.run_name}"
        if resumed_from_step >= total_steps:
            self.console.print(f"{run}: already finished at step {resumed_from_step}")
        elif resumed_from_step:
            self.console.print(f"{run}: resuming from step {resumed_from_step}")
        else:
            self.console.print(f"{run}: training {total_steps} steps")
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(run, total=total_steps, completed=resumed_from_step,
                                             metrics="")

    def progress(self, step, train_loss, train_accuracy):
        self._progress.update(self._task, completed=step,
                              metrics=f"loss {train_loss:.4f} acc {train_accuracy:.2%}")

    def epoch_end(self, line):
        self.console.print(line, soft_wrap=True, highlight=False)
