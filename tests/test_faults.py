"""Faults: two processes on one run, killed lock holders, corrupted checkpoints. Every
case ends in one clear line or in the same numbers as a run that was never disturbed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from initcmp import config, records
from initcmp.cli import main
from initcmp.errors import CheckpointError

SYN = ["--set", "data.name=synthetic"]


def paths_for(tmp_path, init="he", seed=0):
    cfg = config.load(init=init, seed=seed, overrides=("data.name=synthetic",))
    return records.RunPaths.of(cfg, tmp_path / "checkpoints", tmp_path / "logs")


def invoke(tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_second_process_on_the_same_run_is_refused_naming_folder_and_holder(tmp_path, monkeypatch):
    holder = records.RunLock(paths_for(tmp_path)).acquire()  # "another process"
    try:
        result = invoke(tmp_path, monkeypatch, "train", "--init", "he", *SYN)
    finally:
        holder.release()
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in result.output
    assert "checkpoints/mnist_mlp/he-s0 is in use by process " + str(os.getpid()) in line
    # the holder released it: the same command now trains
    assert invoke(tmp_path, monkeypatch, "train", "--init", "he", *SYN).exit_code == 0


def test_fresh_cannot_delete_a_run_another_process_holds(tmp_path, monkeypatch):
    assert invoke(tmp_path, monkeypatch, "train", "--init", "he", *SYN).exit_code == 0
    paths = paths_for(tmp_path)
    before = sorted(p.name for p in paths.checkpoints.iterdir())
    holder = records.RunLock(paths).acquire()
    try:
        result = invoke(tmp_path, monkeypatch, "train", "--init", "he", *SYN, "--fresh")
    finally:
        holder.release()
    assert result.exit_code == 2 and "in use by process" in result.stderr
    assert sorted(p.name for p in paths.checkpoints.iterdir()) == before


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path):
    paths = paths_for(tmp_path)
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from initcmp import records
        paths = records.RunPaths(Path({str(paths.checkpoints)!r}), Path({str(paths.logs)!r}))
        records.RunLock(paths).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointError, match=f"in use by process {child.pid}"):
            records.RunLock(paths).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    records.RunLock(paths).acquire().release()  # the OS dropped the dead holder's lock


def test_compare_refuses_when_one_of_its_runs_is_held_and_trains_nothing(tmp_path, monkeypatch):
    holder = records.RunLock(paths_for(tmp_path, "glorot", 1)).acquire()
    try:
        result = invoke(tmp_path, monkeypatch, "compare", *SYN, "--seeds", "2")
    finally:
        holder.release()
    assert result.exit_code == 2 and "glorot-s1 is in use by process" in result.stderr
    assert not list((tmp_path / "logs").rglob("result.json"))
