"""A test-only hook that kills the process at a named point, to prove that a run killed
there resumes to the same bits (tests/test_faults.py).

With INITCMP_KILL_AT=<point>:<n> in the environment, the n-th arrival at `point` sends
SIGKILL to this process: no handler, no cleanup, as a power cut or the OOM killer would.
With <point>:<n>:INT it sends SIGINT instead, a Ctrl-C arriving exactly there.
Unset, as it always is outside the tests, a call costs one environment lookup.

Points: step (after a compiled call of training steps, one arrival per step), evaluate
(after an evaluation, before its record), metrics (after a metrics row is written),
checkpoint (after one run's checkpoint, before the next run's in a stack), result
(before result.json is written), group (after a stack of runs has finished, before the
next stack of a compare starts), task (in the Ray driver, after a task's results came
back).
"""

from __future__ import annotations

import os
import signal

_arrivals: dict[str, int] = {}


def point(name: str, arrivals: int = 1) -> None:
    """`arrivals` at `name` at once (a compiled call of several training steps arrives
    once per step): the kill comes after the call that reaches the n-th."""
    target = os.environ.get("INITCMP_KILL_AT")
    if not target:
        return
    where, _, rest = target.partition(":")
    if where != name:
        return
    count, _, how = rest.partition(":")
    before = _arrivals.get(name, 0)
    _arrivals[name] = before + arrivals
    if before < int(count or 1) <= _arrivals[name]:
        os.kill(os.getpid(), signal.SIGINT if how == "INT" else signal.SIGKILL)
