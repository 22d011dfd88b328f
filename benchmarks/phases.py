"""Where the seconds of one `initcmp compare` process go (`make bench` runs it).

    python benchmarks/phases.py [compare options]   # in a scratch folder

Runs the real command in this process with wall-clock timers wrapped around initcmp's
stages (no profiler: cProfile doubles the Python-heavy parts), then prints one JSON
object of seconds per stage on stdout's last line. The stages overlap nothing: each
timer covers calls the others do not.
"""

from __future__ import annotations

import collections
import functools
import json
import sys
import time

START = time.perf_counter()

from initcmp.engine import checkpoints  # noqa: E402
from initcmp.api import commands as api_commands  # noqa: E402
from initcmp.cli import main as cli_main  # noqa: E402
from initcmp.engine import fused  # noqa: E402
from initcmp.engine import run_state  # noqa: E402
from initcmp.engine import runtime  # noqa: E402 - these are timed from START

seconds: dict[str, float] = collections.defaultdict(float)
FIRST = "first call of training steps (trace, compile or load; its first block)"


def timed(owner, name: str, stage: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[stage] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    seconds["python and initcmp imports"] = time.perf_counter() - START
    start = time.perf_counter()
    runtime.tensorflow()
    seconds["import TensorFlow"] = time.perf_counter() - start
    timed(run_state.Run, "__init__", "open runs (models, checkpoint state, writers)")
    timed(fused.StackedRuns, "evaluate", "evaluate (10,000 test images per run)")
    timed(checkpoints.RunState, "save", "checkpoints")
    timed(fused.StackedRuns, "store", "checkpoints")
    timed(run_state.Run, "log_train", "TensorBoard train scalars")
    timed(api_commands, "_comparison", "table, files and plot")  # the files and plot
    timed(cli_main, "_report", "table, files and plot")  # the table printed

    build = fused.StackedRuns.__init__

    def stack_init(self, *args, **kwargs):  # time every call of the compiled steps
        begin = time.perf_counter()
        build(self, *args, **kwargs)
        seconds["build the stack"] += time.perf_counter() - begin
        steps = self.train_steps

        def train_steps(*a):
            begin = time.perf_counter()
            out = steps(*a)
            key = "training steps" if FIRST in seconds else FIRST
            seconds[key] += time.perf_counter() - begin
            return out

        self.train_steps = train_steps

    fused.StackedRuns.__init__ = stack_init

    sys.argv = ["initcmp", "compare", *sys.argv[1:]]
    try:
        main.main(standalone_mode=False)
    finally:
        total = time.perf_counter() - START
        seconds["other"] = total - sum(seconds.values())
        seconds["total"] = total
        print(json.dumps({k: round(v, 3) for k, v in seconds.items()}))


if __name__ == "__main__":
    main()
