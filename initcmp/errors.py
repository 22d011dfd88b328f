"""The library's own exception types.

The library raises these and never prints or exits for the CLI's sake; `cli.py`
turns each into one line on stderr and an exit code. Anything else that escapes
is a bug and is shown with its traceback.
"""


class InitcmpError(Exception):
    """A problem the user can fix: the message is the whole story, one line."""

    exit_code = 2


class ConfigError(InitcmpError):
    """A config file, a `--set` or a command-line value is wrong."""


class DataError(InitcmpError):
    """The data set cannot be found, read or verified."""


class CheckpointError(InitcmpError):
    """A run's checkpoint is missing, unreadable or belongs to another config."""


class Interrupted(InitcmpError):
    """Training stopped on Ctrl-C after saving a checkpoint."""

    exit_code = 130
