"""A sweep's stacks trained in worker processes (experiments/workers.py) give the bits of
the same sweep trained one stack at a time in one process, whatever the number of
workers and TensorFlow threads; a worker killed mid-stack or a Ctrl-C leaves every run
to resume to those bits; and the memory check counts every worker."""

from __future__ import annotations

import json
import signal
import time

import pytest

from helpers import (
    SYNTHETIC_ARGS,
    error_line,
    finished_runs,
    python,
    run_cli_in,
    start_initcmp,
)

# Two depths (two stacks, two compiled shapes) of two scales each, tanh (a curved
# activation: the case where XLA compiles stacks most differently), on the synthetic set.
SWEEP = [
    "sweep",
    *SYNTHETIC_ARGS,
    "--grid",
    "model.depth=1,3",
    "--grid",
    "init.scale=1,2.5",
    "--seeds",
    "2",
    "--steps",
    "40",
    "--set",
    "model.activation=tanh",
    "--set",
    "model.width=32",
    "--set",
    "init.name=variance_scaling",
    "--set",
    "checkpoint.every_steps=10",
    "--set",
    "log.every_steps=5",
]


def table(root) -> list:
    """The sweep's cells as its sweep.json gives them, without times."""
    (path,) = (root / "logs").rglob("sweep.json")
    cells = json.loads(path.read_text())["cells"]
    return [{k: v for k, v in cell.items() if k != "seconds"} for cell in cells]


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """The sweep trained one stack at a time in the command's own process."""
    root = tmp_path_factory.mktemp("alone")
    done = python("-m", "initcmp", *SWEEP, "--set", "compare.workers=1", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "worker processes" not in done.stderr
    return root


def test_two_workers_give_the_bits_of_one_process(alone, tmp_path):
    """Two workers (one TensorFlow thread each on 2 cores): every run's weights, metrics
    and result, and the sweep's table, are those of the sweep trained in one process."""
    args = [*SWEEP, "--set", "compare.workers=2"]
    done = python("-m", "initcmp", *args, cwd=tmp_path, env={"INITCMP_FREE_MEMORY": None})
    assert done.returncode == 0, done.stderr
    assert "2 stacks in 2 worker processes (1 thread each)" in done.stderr
    runs = finished_runs(tmp_path)
    assert len(runs) == 8
    assert runs == finished_runs(alone)
    assert table(tmp_path) == table(alone)


def test_a_killed_worker_stops_the_sweep_and_its_runs_resume_to_the_same_bits(alone, tmp_path):
    """kill -9 of a worker in its 15th step (INITCMP_KILL_AT in the worker): the command
    ends in one line saying so, the other worker saves its runs and stops; the same
    command then resumes every run from its own checkpoint to the bits of one process."""
    args = [*SWEEP, "--set", "compare.workers=2"]
    killed = python("-m", "initcmp", *args, cwd=tmp_path, kill="step:15")
    line = error_line(killed, "worker process", "killed by signal 9", "rerun", alone=False)
    assert line.startswith("initcmp: error: ")
    again = python("-m", "initcmp", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "resuming from step" in again.stderr
    assert finished_runs(tmp_path) == finished_runs(alone)


def test_ctrl_c_saves_every_workers_runs_and_the_rerun_ends_with_the_same_bits(alone, tmp_path):
    """SIGINT to the command while both workers train: exit 130 and the resume hint;
    rerun, every run resumes to the bits of one process."""
    args = [*SWEEP, "--steps", "400", "--set", "compare.workers=2"]
    process = start_initcmp(tmp_path, *args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # every run has a checkpoint: both stacks train
        if len(list((tmp_path / "checkpoints").rglob("*.index"))) >= 8:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)  # to the command alone: it tells its workers
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "Rerun the same command to resume" in stderr.strip().splitlines()[-1]
    again = python("-m", "initcmp", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("resuming from step") == 2, again.stderr
    (tmp_path / "r").mkdir()
    reference = python("-m", "initcmp", *args, "--set", "compare.workers=1", cwd=tmp_path / "r")
    assert reference.returncode == 0, reference.stderr
    assert finished_runs(tmp_path) == finished_runs(tmp_path / "r")


def test_workers_asked_for_that_do_not_fit_are_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INITCMP_FREE_MEMORY", "1.5e9")
    result = run_cli_in(tmp_path, monkeypatch, *SWEEP, "--set", "compare.workers=2")
    line = error_line(result, "2 worker processes", "compare.workers", alone=False)
    assert "needs at least" in line


def test_by_default_a_long_sweep_takes_the_workers_cores_and_memory_allow(monkeypatch, tmp_path):
    """The default (`compare.workers` unset): a worker a core, as many as memory holds,
    for a sweep estimated to train long enough to win back a worker's start; a short
    sweep, or a comparison, stays in the command's own process."""
    from initcmp.data import sources
    from initcmp.engine.reporter import Reporter
    from initcmp.experiments import launch, workers
    from helpers import synthetic_config

    def chosen(steps: int, sweep: bool = True) -> int:
        cfgs = [synthetic_config("he", f"model.depth={d}", f"train.steps={steps}") for d in (1, 2)]
        launcher = launch.LocalLauncher(cfgs[0], tmp_path / "ck", tmp_path / "logs", Reporter())
        launcher.sweep = sweep
        return launcher.workers([[c] for c in cfgs], sources.synthetic())

    monkeypatch.setenv("INITCMP_FREE_MEMORY", "1e12")
    assert chosen(1_000_000) == min(2, workers.cores())  # hours of training: both cores
    assert chosen(5) == 1  # seconds of training: not worth a second TensorFlow
    assert chosen(1_000_000, sweep=False) == 1  # a comparison: one process
    monkeypatch.setenv("INITCMP_FREE_MEMORY", "1.5e9")
    assert chosen(1_000_000) == 1  # room for one worker only
