"""The library's own exception types, one per kind of problem.

The library raises these and never prints or exits for the CLI's sake; `cli/main.py`
turns each into one line on stderr and an exit code. Anything else that escapes
is a bug and is shown with its traceback.
"""

from __future__ import annotations


class InitcmpError(Exception):
    """A problem the user can fix: the message is the whole story, one line."""

    exit_code = 2


class ConfigError(InitcmpError):
    """A config file, a flag or a `--set` value is wrong."""


class DataError(InitcmpError):
    """The data set cannot be found, read or verified."""


class CheckpointError(InitcmpError):
    """A run's checkpoints are missing, unreadable, or belong to another config."""


class RunInUseError(CheckpointError):
    """Another process holds the run (its lock), so this one must not touch it; `holder`
    is that process's PID as its lock file gave it ("unknown" if it had none yet)."""

    def __init__(self, message: str, holder: str = "unknown"):
        super().__init__(message)
        self.holder = holder


class OutputError(InitcmpError):
    """A file or folder cannot be written: a checkpoint, a record, a report, a plot."""


class ExecutorError(InitcmpError):
    """The executor failed: Ray missing or unreachable, or a task that kept dying."""


class NoResultsError(InitcmpError):
    """There is nothing to report: no run of the experiment has finished."""


class OutOfMemoryError(InitcmpError):
    """The machine has not the memory a command needs: refused before anything is built
    (engine/memory.py's estimate), or TensorFlow or numpy ran out on the way."""


class MissingDependencyError(InitcmpError, ImportError):
    """An optional package that a call needs is not installed (pandas, for a result's
    `to_pandas`); the message says what to install."""


class Interrupted(InitcmpError):
    """Stopped on Ctrl-C: exit 130. Training saves a checkpoint first and then says how
    to resume (`resume`): rerun the same command or, if that had --fresh, rerun it
    without (with --fresh it would start over)."""

    exit_code = 130

    def __init__(self, where: str, *, resume: bool = False, fresh: bool = False):
        self.where, self.resume = where, resume
        hint = (
            "Rerun it without --fresh to resume (with --fresh it starts over)"
            if fresh
            else "Rerun the same command to resume"
        )
        super().__init__(f"{where}. {hint}" if resume else where)

    def after_fresh(self) -> Interrupted:
        """The same interruption, of a command that ran with --fresh."""
        return Interrupted(self.where, resume=self.resume, fresh=True)


def first_line(exc: BaseException) -> str:
    """The gist of an exception for a one-line message. TensorFlow's wrap
    `{{function_node ...}} path; reason [Op:X]` becomes `reason`."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if "[Op:" in line:
        line = line.split("[Op:")[0].strip().rsplit("; ", 1)[-1]
    return line[:200]
