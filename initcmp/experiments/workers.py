"""Stacks trained in worker processes on this machine, several at once: the local
executor's way to use every core when one stack cannot (a sweep's many small stacks).

Each worker is a fresh Python process (multiprocessing's spawn: nothing inherited from
the caller's TensorFlow or threads) that loads the data once, keeps one fused engine for
all the stacks it trains (a shape is traced and compiled once per worker) and calls
`train.run_many` exactly as the in-process launcher does: the same per-run seeds, resume
rules, locks and bits. TensorFlow's thread pools in each worker are sized so that the
workers together use the cores once (`TF_NUM_INTRAOP_THREADS`); the thread count does
not change a weight (tests/test_workers.py).

The caller's process imports no TensorFlow: it hands out the stacks, largest first, and
draws what the workers tell its reporter. Interruptions keep the guarantees of one
process:

- Ctrl-C: every worker saves its runs' checkpoints and stops; the command ends with
  `Interrupted`, and the same command resumes each run from its own checkpoint.
- A worker killed (kill -9, the OOM killer): the others are stopped as on Ctrl-C and the
  command ends with one line; a rerun resumes the killed worker's runs from their last
  checkpoints, to the same bits.
- The caller killed (kill -9): the workers die with it (Linux: PR_SET_PDEATHSIG), and a
  rerun resumes every run; elsewhere they finish their current stack and exit.
"""

from __future__ import annotations

import contextlib
import copyreg
import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import types
from pathlib import Path

from initcmp.config.schema import Config
from initcmp.errors import ExecutorError, InitcmpError, Interrupted
from initcmp.engine.reporter import Reporter


# Configs hold their sweep grid in a read-only mapping, which pickle cannot copy by
# itself: as a dict, and read-only again on the other side.
def _read_only(mapping: dict) -> types.MappingProxyType:
    return types.MappingProxyType(mapping)


copyreg.pickle(types.MappingProxyType, lambda m: (_read_only, (dict(m),)))

# Seconds between looks at whether every worker is still alive.
POLL = 0.5


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run(
    work: list[list[Config]],
    sizes: list[float],
    workers: int,
    *,
    checkpoint_root,
    log_root,
    fuse: bool,
    reporter: Reporter,
    held: list[Config] | None = None,
) -> None:
    """Train the stacks of `work` in `workers` processes, largest first (`sizes`: each
    stack's work, steps left x weights), so that the last to finish is a small one;
    runs another process held go to `held`."""
    ctx = multiprocessing.get_context("spawn")
    tasks, events = ctx.Queue(), ctx.Queue()
    for i in sorted(range(len(work)), key=lambda i: -sizes[i]):
        tasks.put((i, work[i]))
    for _ in range(workers):
        tasks.put(None)
    tasks.cancel_join_thread()  # stopped early, this process must not wait on its feeder
    threads = max(1, cores() // workers)
    roots = (str(Path(checkpoint_root).resolve()), str(Path(log_root).resolve()))
    procs = [
        ctx.Process(
            target=_worker,
            args=(tasks, events, threads, roots, fuse, os.getpid()),
            name=f"initcmp-worker-{n}",
            daemon=True,
        )
        for n in range(workers)
    ]
    with _without_main():
        for proc in procs:
            proc.start()
    left, failure, interrupted = len(work), None, None
    try:
        while left and failure is None:
            try:
                event = events.get(timeout=POLL)
            except queue.Empty:
                failure = _dead(procs, work)
                continue
            left -= _handle(event, reporter, held)
    except KeyboardInterrupt:
        interrupted = Interrupted("interrupted; checkpoints saved", resume=True)
    except InitcmpError as exc:  # a worker's own error (a bad run, out of memory)
        failure = exc
    if left:  # stop the others: each saves its checkpoints first (a Ctrl-C does the same)
        for proc in procs:
            if proc.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)
        failure = _drain(procs, events, reporter, held) or failure
    for proc in procs:
        proc.join()
    if interrupted is not None:
        raise interrupted
    if failure is not None:
        raise failure


def _handle(event, reporter: Reporter, held) -> int:
    """Act on one event from a worker; 1 if it ends a stack. A stack that ended in an
    error raises it here."""
    kind, *rest = event
    if kind == "call":
        name, args = rest
        getattr(reporter, name)(*args)
        return 0
    held_runs, error = rest
    if held is not None:
        held.extend(held_runs)
    if error is not None:
        raise error
    return 1


def _dead(procs, work) -> ExecutorError | None:
    """An error naming a worker that died without ending its stack; None if all live."""
    for proc in procs:
        if not proc.is_alive() and proc.exitcode != 0:
            how = (
                f"killed by signal {-proc.exitcode}"
                if proc.exitcode < 0
                else f"exit {proc.exitcode}"
            )
            return ExecutorError(
                f"worker process {proc.pid} died ({how}); its runs stopped at their last "
                "checkpoint: rerun the same command to resume"
            )
    if not any(proc.is_alive() for proc in procs):  # all gone, with stacks untrained
        return ExecutorError(
            "every worker process ended before its stacks did: rerun the same command to resume"
        )
    return None


def _drain(procs, events, reporter: Reporter, held) -> InitcmpError | None:
    """After a stop: let every worker finish (each saves its checkpoints and tells its
    results), reading what they say meanwhile. The first error they report, if not an
    interruption."""
    failure = None
    while any(proc.is_alive() for proc in procs) or not events.empty():
        try:
            event = events.get(timeout=POLL)
        except queue.Empty:
            continue
        try:
            _handle(event, reporter, held)
        except Interrupted:
            pass
        except InitcmpError as exc:
            failure = failure or exc
    return failure


@contextlib.contextmanager
def _without_main():
    """Start processes without the caller's main module: spawn would import it again in
    every worker (as `__mp_main__`) and run a script's or `python -m initcmp`'s top level
    there. A worker needs nothing from it: its target lives in initcmp."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


# --- in the worker ---------------------------------------------------------------------


class _Relay(Reporter):
    """The caller's reporter, seen from a worker: each call becomes an event."""

    def __init__(self, events):
        self._events = events

    def __getattribute__(self, name):
        if name.startswith("_") or not hasattr(Reporter, name):
            return object.__getattribute__(self, name)
        events = object.__getattribute__(self, "_events")
        return lambda *args: events.put(("call", name, args))


def _worker(tasks, events, threads: int, roots, fuse: bool, parent: int) -> None:
    """A worker's life: train stacks from `tasks` until it is given None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # between stacks; see _interruptible
    _die_with(parent)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)  # read when TensorFlow starts
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    from initcmp.data import sources
    from initcmp.engine import fused, memory, runtime, train

    engine, data, trained = fused.Engine(), {}, False
    while (task := tasks.get()) is not None:
        _, stack = task
        held: list[Config] = []
        error = None
        try:
            with _interruptible():
                key = repr(stack[0].data)
                if key not in data:
                    data.clear()
                    data[key] = sources.load(stack[0].data)
                if trained:
                    runtime.release()  # the stack before this one
                train.run_many(
                    stack,
                    data[key],
                    checkpoint_root=roots[0],
                    log_root=roots[1],
                    fuse=fuse,
                    reporter=_Relay(events),
                    held=held,
                    engine=engine,
                )
                trained = True
        except InitcmpError as exc:
            error = exc
        except KeyboardInterrupt:  # between the runs' loops: nothing to save
            error = Interrupted("interrupted")
        except Exception as exc:  # noqa: BLE001 - out of memory, in one line
            error = memory.as_error(exc)
            if error is None:
                raise
        events.put(("end", held, error))
        if isinstance(error, Interrupted):
            break


@contextlib.contextmanager
def _interruptible():
    """SIGINT raises KeyboardInterrupt while a stack trains (the training loop saves
    the checkpoints), once: a Ctrl-C at the terminal and the caller's own SIGINT that
    follows it are one interruption, and a second one would cut a checkpoint short."""

    def once(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, once)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _die_with(parent: int) -> None:
    """Be killed (SIGKILL) when the caller's process ends, however it ends (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the line above
        os.kill(os.getpid(), signal.SIGKILL)
