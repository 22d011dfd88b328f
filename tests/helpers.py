"""What the test modules share that is not a fixture (those are in conftest.py): the
synthetic-data overrides, configs made as the CLI makes them, the command line run in
this process, what the tests compare between runs, a failed command's one error line,
and other processes (initcmp, Python snippets, a holder of a run's lock). Importable by
any test module (tests/ is on sys.path under pytest's default import mode):
`from helpers import ...`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap

# The synthetic set (3000 training images, 24 steps an epoch) instead of MNIST...
SYNTHETIC = ("data.name=synthetic",)  # ...as `overrides` of load_config
SYNTHETIC_ARGS = ["--set", "data.name=synthetic"]  # ...on the command line


def load_config(path=None, *, init=None, seed=None, epochs=None, overrides=()):
    """A config as the command line makes it from `--config PATH --init INIT --seed SEED
    --epochs EPOCHS --set ITEM...` (None: that flag not given)."""
    from initcmp.config.resolve import Override, load, parse_set

    flags = [
        ("--init", "init.name", init),
        ("--seed", "seed", seed),
        ("--epochs", "train.epochs", epochs),
    ]
    given = [Override(key, value, flag) for flag, key, value in flags if value is not None]
    return load(path, given + [parse_set(item) for item in overrides])


def synthetic_config(init="he", *extra, seed=0):
    """`--init INIT --seed SEED --set data.name=synthetic --set EXTRA...`."""
    return load_config(init=init, seed=seed, overrides=SYNTHETIC + tuple(extra))


def run_cli(*args):
    """`initcmp ARGS...` in this process, in the current folder; exceptions propagate."""
    from click.testing import CliRunner

    from initcmp.cli.main import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_cli_in(cwd, monkeypatch, *args):
    """`initcmp ARGS...` run from `cwd` (where ./checkpoints and ./logs land)."""
    monkeypatch.chdir(cwd)
    return run_cli(*args)


def metrics_without_time(root, cfg) -> list[dict]:
    """The metrics rows of `cfg`'s run under `root/ck` and `root/logs`, without the
    wall-clock seconds."""
    from initcmp.store import records

    rows = records.read_metrics(records.RunPaths.of(cfg, root / "ck", root / "logs"))
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def finished_runs(root) -> dict:
    """Per finished run under `root/logs`: its result's numbers and weights fingerprint,
    and its metrics rows without the wall-clock seconds."""
    out = {}
    for result in sorted((root / "logs").rglob("result.json")):
        row = json.loads(result.read_text())
        metrics = [
            {k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (result.parent / "metrics.jsonl").read_text().splitlines()
        ]
        out[result.parent.name] = (
            {
                k: row[k]
                for k in ("weights_sha256", "test_accuracy", "test_loss", "step", "diverged")
            },
            metrics,
        )
    return out


# What may differ between a run trained in a stack and the same run trained alone.
EXECUTION_KEYS = ("seconds", "trained_with", "checkpoint_dir", "log_dir", "resumed_from_step")


def same(result: dict) -> dict:
    """A result without EXECUTION_KEYS: what must be equal fused and alone."""
    return {k: v for k, v in result.items() if k not in EXECUTION_KEYS}


def run_alone(root, cfg, dataset) -> dict:
    """`cfg` trained by itself, its folders under `root/ck` and `root/logs`."""
    from initcmp.engine import train

    return train.run(cfg, dataset, checkpoint_root=root / "ck", log_root=root / "logs")


# --- a failed command's one error line -------------------------------------------------

ERROR = "initcmp: error: "


def error_line(result, *needles, code=None, alone=True) -> str:
    """The one error line a failed `initcmp` command ends with, checked: the command (a
    CliRunner result, or a finished process) exited with `code` (any non-zero code if
    None), printed no traceback and no click "Aborted!", and exactly one line of its
    stderr starts with `initcmp: error: `: its last line, which holds every needle. With
    `alone`, it is the only line (blank lines aside). Returns the line."""
    exit_code = getattr(result, "exit_code", getattr(result, "returncode", None))
    stdout, stderr = result.stdout, result.stderr
    if code is None:
        assert exit_code != 0, stderr
    else:
        assert exit_code == code, (exit_code, stdout, stderr)
    assert "Traceback" not in stdout + stderr and "Aborted" not in stdout + stderr, stderr
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith(ERROR)]
    assert errors and errors == lines[-1:], stderr
    assert len(lines) == 1 or not alone, stderr
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


# --- other processes: initcmp, Python snippets, a run's lock held ------------------------


def environment(env=None, kill=None) -> dict:
    """This process's environment with `env`'s variables set (a value of None removes
    one), and the test-only kill hook INITCMP_KILL_AT (initcmp/engine/faults.py) set to
    `kill`, or removed."""
    out = {k: v for k, v in os.environ.items() if k != "INITCMP_KILL_AT"}
    for key, value in {**(env or {}), "INITCMP_KILL_AT": kill}.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def python(*argv, cwd=None, env=None, kill=None, timeout=600, **kw):
    """`python ARGV...` with this interpreter, run to its end in `cwd` (killed past
    `timeout` seconds): its CompletedProcess, stdout and stderr as text. `env`, `kill`:
    see `environment`; `kw` goes to subprocess.run (e.g. preexec_fn)."""
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=environment(env, kill),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def initcmp(cwd, *args, **kw):
    """`initcmp ARGS...` in a process of its own, run to its end in `cwd` (`python`'s
    keywords: `kill="step:13"` kills it there)."""
    return python("-m", "initcmp", *args, cwd=cwd, **kw)


def start_initcmp(cwd, *args, env=None, kill=None):
    """`initcmp ARGS...` started in a process of its own in `cwd`, not waited for: its
    Popen, stdout and stderr piped as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "initcmp", *args],
        cwd=cwd,
        env=environment(env, kill),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# The lock holder: takes the run's lock, says so, then holds it until it is killed or
# its stdin closes; with "until-waited", until another process blocks waiting for the
# lock (a "->" line of /proc/locks on the lock file), when it exits as a finished
# holder would. /proc/locks is read every 10 ms, at most for 10 minutes.
LOCK_HOLDER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from initcmp.store import records

    paths = records.RunPaths(Path(sys.argv[1]), Path(sys.argv[2]))
    lock = records.RunLock(paths).acquire()
    print("held", flush=True)
    if sys.argv[3] == "until-waited":
        st = os.stat(lock.path)
        me = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with open("/proc/locks") as f:
                if any("->" in line.split() and me in line.split() for line in f):
                    break
            time.sleep(0.01)
    else:
        sys.stdin.read()
""")


@contextlib.contextmanager
def lock_held(paths, *, until_waited=False):
    """Another process holding the lock of the run at `paths` (store/records.RunLock),
    as a process training it would: yields its Popen once it holds the lock. It holds it
    until the block ends, where it is killed (SIGKILL) if it still runs; with
    `until_waited`, only until a process waits for the lock (`RunLock.acquire(wait=True)`),
    when it exits without having trained the run."""
    mode = "until-waited" if until_waited else "until-killed"
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(paths.checkpoints), str(paths.logs), mode],
        env=environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held", "the holder never took the lock"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
