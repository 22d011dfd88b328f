"""Faults: two processes on one run, killed lock holders, corrupted checkpoints. Every
case ends in one clear line or in the same numbers as a run that was never disturbed."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from initcmp.store import records
from initcmp.errors import CheckpointError
from helpers import (
    SYNTHETIC,
    SYNTHETIC_ARGS,
    error_line,
    finished_runs,
    initcmp,
    load_config,
    lock_held,
    run_cli,
    run_cli_in,
    synthetic_config,
)


def paths_for(tmp_path, init="he", seed=0):
    cfg = synthetic_config(init, seed=seed)
    return records.RunPaths.of(cfg, tmp_path / "checkpoints", tmp_path / "logs")


def test_a_second_process_on_the_same_run_is_refused_naming_folder_and_holder(
    tmp_path, monkeypatch
):
    holder = records.RunLock(paths_for(tmp_path)).acquire()  # "another process"
    try:
        result = run_cli_in(tmp_path, monkeypatch, "train", "--init", "he", *SYNTHETIC_ARGS)
    finally:
        holder.release()
    line = error_line(result, code=2)
    assert "checkpoints/mnist_mlp/he-s0 is in use by process " + str(os.getpid()) in line
    # the holder released it: the same command now trains
    assert (
        run_cli_in(tmp_path, monkeypatch, "train", "--init", "he", *SYNTHETIC_ARGS).exit_code == 0
    )


def test_fresh_cannot_delete_a_run_another_process_holds(tmp_path, monkeypatch):
    assert (
        run_cli_in(tmp_path, monkeypatch, "train", "--init", "he", *SYNTHETIC_ARGS).exit_code == 0
    )
    paths = paths_for(tmp_path)
    before = sorted(p.name for p in paths.checkpoints.iterdir())
    holder = records.RunLock(paths).acquire()
    try:
        result = run_cli_in(
            tmp_path, monkeypatch, "train", "--init", "he", *SYNTHETIC_ARGS, "--fresh"
        )
    finally:
        holder.release()
    assert result.exit_code == 2 and "in use by process" in result.stderr
    assert sorted(p.name for p in paths.checkpoints.iterdir()) == before


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path):
    paths = paths_for(tmp_path)
    with lock_held(paths) as child:  # killed (SIGKILL) at the end of the block
        with pytest.raises(CheckpointError, match=f"in use by process {child.pid}"):
            records.RunLock(paths).acquire()
    records.RunLock(paths).acquire().release()  # the OS dropped the dead holder's lock


def test_compare_trains_around_a_run_another_process_holds_then_waits_for_it(tmp_path, monkeypatch):
    """Two experiments sharing a run never train it twice: the one that finds it held
    trains the rest, waits for the holder (which here exits without training it once it
    is waited for), and then trains it itself."""
    paths = paths_for(tmp_path, "glorot", 1)
    with lock_held(paths, until_waited=True) as holder:
        result = run_cli_in(tmp_path, monkeypatch, "compare", *SYNTHETIC_ARGS, "--seeds", "2")
    assert result.exit_code == 0, result.output
    assert f"glorot-s1: in use by process {holder.pid}; waiting for it" in result.stderr
    assert len(list((tmp_path / "logs").rglob("result.json"))) == 6  # 3 inits x 2 seeds


# --- corrupted checkpoints ---------------------------------------------------------------

from initcmp.engine import train  # noqa: E402
from initcmp.engine.reporter import Reporter  # noqa: E402
from initcmp.errors import Interrupted  # noqa: E402


class Notes(Reporter):
    """Keeps the reporter's notes; raises KeyboardInterrupt at `stop_at` (a Ctrl-C)."""

    def __init__(self, stop_at=None):
        self.stop_at, self.notes = stop_at, []

    def note(self, line):
        self.notes.append(line)

    def progress(self, step, metrics):
        if step == self.stop_at:
            raise KeyboardInterrupt


def _cfg():
    return load_config(
        overrides=SYNTHETIC
        + (
            "checkpoint.every_steps=8",
            "log.every_steps=1",
            "train.epochs=2",
        )
    )


def _run(tmp_path, syn, reporter=None, fresh=False):
    return train.run(
        _cfg(),
        syn,
        checkpoint_root=tmp_path / "ck",
        log_root=tmp_path / "logs",
        reporter=reporter,
        fresh=fresh,
    )


def _interrupted_at_20(tmp_path, syn):
    with pytest.raises(Interrupted):
        _run(tmp_path, syn, Notes(stop_at=20))
    folder = tmp_path / "ck" / "mnist_mlp" / "he-s0"
    assert sorted(p.name for p in folder.glob("ckpt-*.index")) == [
        "ckpt-16.index",
        "ckpt-20.index",
        "ckpt-8.index",
    ]
    return folder


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, syn):
    return _run(tmp_path_factory.mktemp("clean"), syn)


@pytest.mark.parametrize("damage", ["truncate data", "garbage index", "empty data"])
def test_a_corrupted_newest_checkpoint_falls_back_and_ends_identical(
    tmp_path, syn, uninterrupted, damage
):
    folder = _interrupted_at_20(tmp_path, syn)
    data_file, index = folder / "ckpt-20.data-00000-of-00001", folder / "ckpt-20.index"
    if damage == "truncate data":
        data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    elif damage == "garbage index":
        index.write_bytes(b"\x00garbage" * 10)
    else:
        data_file.write_bytes(b"")
    reporter = Notes()
    result = _run(tmp_path, syn, reporter)
    assert result["resumed_from_step"] == 16
    assert any("cannot read" in n and "ckpt-20" in n for n in reporter.notes), reporter.notes
    assert result["weights_sha256"] == uninterrupted["weights_sha256"]
    assert result["test_accuracy"] == uninterrupted["test_accuracy"]


def test_no_readable_checkpoint_is_one_line_naming_them_and_fresh(tmp_path, syn, monkeypatch):
    folder = _interrupted_at_20(tmp_path, syn)
    for path in folder.glob("ckpt-*.index"):
        path.write_bytes(b"not a checkpoint")
    monkeypatch.chdir(tmp_path)
    result = run_cli(
        "train",
        *SYNTHETIC_ARGS,
        "--set",
        "checkpoint.every_steps=8",
        "--set",
        "train.epochs=2",
        "--checkpoint-dir",
        "ck",
        "--log-dir",
        "logs",
    )
    line = error_line(result, code=2)
    assert "no readable checkpoint" in line and "ckpt-20, ckpt-16, ckpt-8" in line
    assert "--fresh" in line
    assert len(list(folder.glob("ckpt-*.index"))) == 3  # nothing deleted


def test_a_lost_state_file_loses_nothing_and_eval_falls_back_too(
    tmp_path, syn, uninterrupted, monkeypatch
):
    folder = _interrupted_at_20(tmp_path, syn)
    (folder / "checkpoint").write_text("garbage {{{")  # TF's list of checkpoints
    (folder / "ckpt-20.index").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    args = [
        "--checkpoint-dir",
        "ck",
        *SYNTHETIC_ARGS,
        "--set",
        "checkpoint.every_steps=8",
        "--set",
        "train.epochs=2",
    ]
    evaluated = run_cli("eval", *args, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert "warning: cannot read" in evaluated.stderr and "ckpt-20" in evaluated.stderr
    assert json.loads(evaluated.stdout)["step"] == 16
    reporter = Notes()
    assert _run(tmp_path, syn, reporter)["weights_sha256"] == uninterrupted["weights_sha256"]


# --- kill -9 at named points (initcmp/engine/faults.py), then rerun ----------------------------

TRAIN = [
    "train",
    "--init",
    "he",
    *SYNTHETIC_ARGS,
    "--set",
    "train.epochs=2",
    "--set",
    "checkpoint.every_steps=8",
    "--set",
    "eval.every_steps=5",
    "--set",
    "log.every_steps=4",
]
COMPARE = [
    "compare",
    "--inits",
    "he,glorot",
    "--seeds",
    "1",
    *SYNTHETIC_ARGS,
    "--set",
    "checkpoint.every_steps=8",
    "--set",
    "eval.every_steps=5",
]


def initcmp_here(cwd, args) -> int:
    """The same command in this process (no TensorFlow start-up): for the runs that are
    not killed, which give the same bits in any process."""
    before = os.getcwd()
    os.chdir(cwd)
    try:
        return run_cli(*args).exit_code
    finally:
        os.chdir(before)


ARGS = {"train": TRAIN, "compare": COMPARE, "one_by_one": COMPARE + ["--set", "compare.fuse=false"]}


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory):
    """The records of each command run once, never killed (computed when first needed)."""
    cache = {}

    def get(name):
        if name not in cache:
            cwd = tmp_path_factory.mktemp(f"clean_{name}")
            assert initcmp_here(cwd, ARGS[name]) == 0
            cache[name] = finished_runs(cwd)
        return cache[name]

    return get


def _stop_then_rerun(tmp_path, clean_runs, name, point):
    """The command stopped at `point` by SIGKILL (no handler, no cleanup), or with a
    `:INT` suffix by a SIGINT (a Ctrl-C arriving exactly there: exit 130, the resume
    hint); the rerun, in any process, ends with the bits and the metrics rows of a run
    never stopped."""
    args = ARGS[name]
    stopped = initcmp(tmp_path, *args, kill=point)
    expected = 130 if point.endswith(":INT") else -signal.SIGKILL
    assert stopped.returncode == expected, (stopped.returncode, stopped.stderr[-2000:])
    assert "Traceback" not in stopped.stderr
    assert initcmp_here(tmp_path, args) == 0
    assert finished_runs(tmp_path) == clean_runs(name)


# kill -9 at two points; Ctrl-C at step:12, which ends a block at a log point (every 4),
# and at metrics:3, between the rows of the stack's two runs at step 10.
QUICK = [
    ("train", "step:13"),
    ("compare", "checkpoint:3"),
    ("train", "step:12:INT"),
    ("compare", "metrics:3:INT"),
]
KILLS = (
    [
        ("train", p)
        for p in (
            "step:1",
            "step:24",
            "step:47",
            "evaluate:2",
            "evaluate:6",
            "metrics:3",
            "checkpoint:1",
            "checkpoint:4",
            "result:1",
        )
    ]
    + [
        ("compare", p)
        for p in ("step:20", "evaluate:4", "metrics:5", "checkpoint:2", "result:1", "result:2")
    ]
    + [("one_by_one", p) for p in ("group:1", "result:2", "checkpoint:4")]
)


FULL = KILLS + [(name, f"{point}:INT") for name, point in KILLS]


@pytest.mark.parametrize("name, kill", QUICK)
def test_killed_at_a_point_resumes_to_the_same_bits(tmp_path, clean_runs, name, kill):
    _stop_then_rerun(tmp_path, clean_runs, name, kill)


@pytest.mark.faults
@pytest.mark.parametrize("name, kill", FULL)
def test_killed_anywhere_resumes_to_the_same_bits(tmp_path, clean_runs, name, kill):
    """make faults: kill -9 and Ctrl-C at every point."""
    _stop_then_rerun(tmp_path, clean_runs, name, kill)


# --- a full disk -------------------------------------------------------------------------


def test_a_full_disk_is_one_line_keeps_earlier_checkpoints_and_resumes(tmp_path, clean_runs):
    """A file-size limit (RLIMIT_FSIZE, 1 MB) stands in for a full disk: the records fit,
    the next 3 MB checkpoint does not, and its write fails as on a full disk."""
    import resource

    assert initcmp_here(tmp_path, TRAIN + ["--set", "train.epochs=1"]) == 0
    folder = tmp_path / "checkpoints" / "mnist_mlp" / "he-s0"
    before = {p.name: p.read_bytes() for p in folder.glob("ckpt-*")}

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    full = initcmp(tmp_path, *TRAIN, preexec_fn=limit)
    line = error_line(full, code=2, alone=False)
    assert line.startswith("initcmp: error: cannot write a checkpoint in checkpoints/")
    assert "File too large" in line and "rerun to resume" in line
    assert {p.name: p.read_bytes() for p in folder.glob("ckpt-*") if p.name in before} == before
    assert initcmp_here(tmp_path, TRAIN) == 0
    assert finished_runs(tmp_path) == clean_runs("train")


def test_a_torn_metrics_line_and_a_half_written_checkpoint_are_ignored(tmp_path, clean_runs):
    """What a kill in the middle of a write leaves: the end of a metrics line, and TF's
    temporary folder and an index with no data of a checkpoint being written."""
    killed = initcmp(tmp_path, *TRAIN, kill="step:30")
    assert killed.returncode == -signal.SIGKILL
    run = tmp_path / "logs" / "mnist_mlp" / "he-s0"
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"train_loss": 0.5, "train_acc')
    folder = tmp_path / "checkpoints" / "mnist_mlp" / "he-s0"
    (folder / "ckpt-32_temp").mkdir()
    (folder / "ckpt-32_temp" / "part-00000-of-00001.index").write_bytes(b"\x00" * 10)
    (folder / "ckpt-31.index").write_bytes(b"")
    assert initcmp_here(tmp_path, TRAIN) == 0
    assert finished_runs(tmp_path) == clean_runs("train")


def test_a_read_only_run_folder_is_one_line_and_changes_nothing(tmp_path, clean_runs):
    """Root writes through permission bits, so the folders are made immutable
    (`chattr +i`, which root obeys) instead of chmod'ed."""
    assert initcmp_here(tmp_path, TRAIN + ["--set", "train.epochs=1"]) == 0
    folders = [tmp_path / kind / "mnist_mlp" / "he-s0" for kind in ("checkpoints", "logs")]
    before = {p: p.read_bytes() for f in folders for p in f.iterdir() if p.is_file()}
    locked = subprocess.run(["chattr", "-R", "+i", *map(str, folders)], capture_output=True)
    if locked.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {locked.stderr.decode().strip()}")
    try:
        refused = initcmp(tmp_path, *TRAIN)
    finally:
        subprocess.run(["chattr", "-R", "-i", *map(str, folders)], check=True)
    line = error_line(refused, code=2, alone=False)
    assert line.startswith("initcmp: error: cannot write ") and "not permitted" in line
    assert {p: p.read_bytes() for f in folders for p in f.iterdir() if p.is_file()} == before
    assert initcmp_here(tmp_path, TRAIN) == 0
    assert finished_runs(tmp_path) == clean_runs("train")
