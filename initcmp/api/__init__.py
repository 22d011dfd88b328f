"""initcmp from Python: one function per command, each returning its numbers as data.

The command line (`initcmp/cli`) calls these same functions and prints what they return,
so a notebook and a terminal can never disagree: `initcmp.compare(seeds=1)` and
`initcmp compare --seeds 1 --json` train the same runs, in the same folders, and give the
same rows. Each function takes what its command takes: a config (a shipped config's
name, a path, or None for the built-in one), the command's options as keyword
arguments, `overrides` as a mapping of dotted keys (`{"model.depth": 20}`; or the
command line's `"key=value"` strings), and for `sweep` a `grid` of key to values
(`{"model.depth": [2, 4], "init.scale": "0.5:2:0.5"}`, lists or the CLI's ranges).

Errors are the library's own exceptions (initcmp/errors.py), with the same one-line
message the command prints after `initcmp: error:`: an override is named as the command
line names it (`--set model.depth`, `--grid init.scale`, `--seeds`). Nothing is printed
unless `progress=True`. The results (api/results.py) hold rows, a table for Jupyter, the
command's figure and the runs' own records.

Importing this module imports neither TensorFlow, Ray nor matplotlib: each function
imports what it needs when it runs.
"""

from initcmp.api.commands import (
    FLAG_KEYS,
    compare,
    coord_check,
    evaluate,
    inspect,
    library_errors,
    load,
    make_config,
    overrides_of,
    sweep,
    theory,
    train,
)
from initcmp.api.results import (
    Comparison,
    CoordCheck,
    Inspection,
    Result,
    Run,
    RunResult,
    Sweep,
    Theory,
)

__all__ = [
    "make_config",
    "train",
    "evaluate",
    "compare",
    "sweep",
    "load",
    "theory",
    "inspect",
    "coord_check",
    "Result",
    "Comparison",
    "Sweep",
    "Theory",
    "Inspection",
    "CoordCheck",
    "RunResult",
    "Run",
    "FLAG_KEYS",
    "overrides_of",
    "library_errors",
]
