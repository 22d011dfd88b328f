"""Ctrl-C anywhere in a command is one line and exit 130 (not click's "Aborted!" and 1),
and the hint after it says how to resume: without --fresh when the command had it."""

from __future__ import annotations

import builtins
import signal
import time
from pathlib import Path

import pytest

from initcmp.report import progress
from helpers import SYNTHETIC_ARGS, error_line, run_cli_in, start_initcmp


def press_ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("command", [["train"], ["compare", "--seeds", "1"], ["inspect"]])
def test_ctrl_c_before_training_is_one_line_and_130(tmp_path, monkeypatch, command):
    """Ctrl-C while the data loads: opening the data file raises KeyboardInterrupt, as a
    SIGINT arriving there would."""
    data = tmp_path / "mnist.npz"
    data.write_bytes(b"")  # never read: its opening is interrupted
    real_open = builtins.open

    def interrupted_open(file, *args, **kwargs):
        if str(file) == str(data):
            raise KeyboardInterrupt
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", interrupted_open)
    result = run_cli_in(tmp_path, monkeypatch, *command, "--set", f"data.path={data}")
    assert result.exit_code == 130
    assert error_line(result, code=130, alone=False) == "initcmp: error: interrupted (Ctrl-C)"


@pytest.mark.parametrize(
    "command", [["train", "--init", "he"], ["compare", "--inits", "he", "--seeds", "1"]]
)
def test_after_fresh_the_hint_says_rerun_without_it_and_that_resumes(
    tmp_path, monkeypatch, command
):
    args = [*command, *SYNTHETIC_ARGS, "--set", "log.every_steps=1"]
    (tmp_path / "plain").mkdir()
    (tmp_path / "fresh").mkdir()
    with monkeypatch.context() as m:
        m.setattr(progress.ConsoleReporter, "progress", press_ctrl_c)  # at step 1
        plain = run_cli_in(tmp_path / "plain", monkeypatch, *args)
        fresh = run_cli_in(tmp_path / "fresh", monkeypatch, *args, "--fresh")
    assert plain.exit_code == fresh.exit_code == 130
    stopped = "initcmp: error: interrupted at step 1 of 24; checkpoint saved. "
    assert error_line(plain, code=130, alone=False) == stopped + "Rerun the same command to resume"
    assert error_line(fresh, code=130, alone=False) == (
        stopped + "Rerun it without --fresh to resume (with --fresh it starts over)"
    )
    again = run_cli_in(tmp_path / "fresh", monkeypatch, *args)  # as the hint says
    assert again.exit_code == 0 and "resuming from step 1" in again.stderr


def test_ctrl_c_while_tensorflow_imports_is_one_line_and_130(tmp_path):
    """A real SIGINT to a real process, as soon as TensorFlow's library is mapped (it is
    imported only inside a command, so the command has started)."""
    process = start_initcmp(tmp_path, "train", *SYNTHETIC_ARGS)
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if "tensorflow" in maps.read_text():
                break
        except OSError:  # it has just exited
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("initcmp: error: interrupted"), stderr[-2000:]
