"""`compare --executor ray` on a local Ray instance with 2 CPUs: the same numbers as the
local executor, a killed task retried to the same bits, nothing left running, and clear
one-line errors. Every run here is real training on the synthetic set."""

from __future__ import annotations

import subprocess
import sys

import pytest

from initcmp.experiments import compare
from initcmp.data import sources
from helpers import (
    SYNTHETIC_ARGS,
    finished_runs as records,
    initcmp,
    load_config,
    python,
    run_cli_in as invoke,
    start_initcmp,
)

SYN = [
    *SYNTHETIC_ARGS,
    "--set",
    "checkpoint.every_steps=8",
    "--inits",
    "he,glorot",
    "--seeds",
    "2",
]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("local")
    with pytest.MonkeyPatch.context() as mp:
        assert invoke(cwd, mp, "compare", *SYN).exit_code == 0
    return records(cwd)


def _ray_processes() -> int:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return sum(("raylet" in line or "gcs_server" in line) for line in out.splitlines())


def test_ray_executor_gives_the_local_numbers_and_leaves_nothing_running(
    tmp_path, monkeypatch, local
):
    assert _ray_processes() == 0
    result = invoke(
        tmp_path,
        monkeypatch,
        "compare",
        *SYN,
        "--executor",
        "ray",
        "--set",
        "ray.num_cpus=2",
        "--set",
        "compare.fuse=false",
    )
    assert result.exit_code == 0, result.stderr
    assert "ray: 4 runs in 4 tasks on a local Ray instance" in result.stderr
    assert records(tmp_path) == local
    assert _ray_processes() == 0  # the instance started for the command is gone
    again = invoke(tmp_path, monkeypatch, "compare", *SYN, "--executor", "ray")
    assert again.exit_code == 0 and "ray:" not in again.stderr  # finished: nothing to run
    assert again.stderr.count("finished earlier") == 4


def test_a_killed_task_is_retried_and_ends_with_the_same_numbers(tmp_path, local):
    """Each attempt's worker kills itself (SIGKILL, initcmp/engine/faults.py) at its 13th step:
    the first at step 13, the retry (resumed from the checkpoint at step 8) at step 21;
    the third attempt, from step 16, finishes. Ray retries; the numbers don't change."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        runtime_env={"env_vars": {"INITCMP_KILL_AT": "step:13"}},
    )
    try:
        cfg = load_config(
            overrides=(
                "data.name=synthetic",
                "checkpoint.every_steps=8",
                'compare.inits=["he", "glorot"]',
                "compare.seeds=[0, 1]",
                "compare.executor=ray",
                "ray.retries=3",
            )
        )
        compare.run(
            cfg,
            sources.synthetic,
            checkpoint_root=tmp_path / "checkpoints",
            log_root=tmp_path / "logs",
        )
    finally:
        ray.shutdown()
    assert records(tmp_path) == local
    run = tmp_path / "logs" / "mnist_mlp" / "he-s0"
    assert len(list(run.glob("events.out.tfevents.*"))) == 3  # three attempts wrote logs


def test_too_few_retries_is_one_line_and_a_rerun_finishes(tmp_path, monkeypatch, local):
    monkeypatch.setenv("INITCMP_KILL_AT", "step:13")  # inherited by the Ray workers
    failed = invoke(
        tmp_path,
        monkeypatch,
        "compare",
        *SYN,
        "--executor",
        "ray",
        "--set",
        "ray.retries=0",
        "--set",
        "ray.num_cpus=2",
    )
    assert failed.exit_code == 2
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("initcmp: error: a Ray task for ") and "rerun to resume" in line
    monkeypatch.delenv("INITCMP_KILL_AT")
    assert invoke(tmp_path, monkeypatch, "compare", *SYN, "--executor", "ray").exit_code == 0
    assert records(tmp_path) == local


def test_without_ray_installed_it_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    result = invoke(tmp_path, monkeypatch, "compare", *SYN, "--executor", "ray")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "initcmp: error: the ray executor needs Ray, which is "
        "not installed: pip install 'initcmp[ray]' (or `make "
        "install`)"
    )


def test_ray_is_imported_only_when_asked_for():
    code = (
        "import sys, initcmp.cli.main, initcmp.experiments.compare, "
        "initcmp.experiments.on_ray, initcmp.engine.train; "
        "print('ray' in sys.modules)"
    )
    out = python("-c", code)
    assert out.stdout.strip() == "False", out.stderr


def test_a_killed_driver_is_rerun_and_finishes_with_the_same_numbers(tmp_path, local):
    """The driver SIGKILLs itself after its first task's results (engine/faults.py, point
    `task`); `ray stop` ends what the dead driver's instance left, as docs/guides/cluster.md says;
    the same command then finishes the rest."""
    import os

    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    args = ["compare", *SYN, "--executor", "ray", "--set", "compare.fuse=false"]
    args += ["--set", "ray.num_cpus=2"]
    killed = initcmp(tmp_path, *args, kill="task:1")
    assert killed.returncode == -9, killed.stderr[-2000:]
    subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)
    assert len(list((tmp_path / "logs").rglob("result.json"))) >= 1  # the first task's
    rerun = initcmp(tmp_path, *args)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "finished earlier" in rerun.stderr
    assert records(tmp_path) == local
    assert _ray_processes() == 0


def test_address_joins_a_running_cluster_and_leaves_it_running(tmp_path, monkeypatch, local):
    """`ray start --head` as on a cluster's head node; --address joins it. The cluster
    is not initcmp's to stop."""
    import os

    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    head = subprocess.run(
        [
            ray_cli,
            "start",
            "--head",
            "--port",
            "6391",
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert head.returncode == 0, head.stderr[-2000:]
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # `ray start` 2.60 requires the token
    try:
        result = invoke(
            tmp_path,
            monkeypatch,
            "compare",
            *SYN,
            "--executor",
            "ray",
            "--address",
            "127.0.0.1:6391",
        )
        assert result.exit_code == 0, result.stderr
        assert "on 127.0.0.1:6391" in result.stderr
        assert records(tmp_path) == local
        assert _ray_processes() >= 1  # the cluster still runs
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)


# --- a wrong --address: one line in seconds, and Ctrl-C stops it (no Ray is started) ---


def _compare_at(address: str, cwd) -> subprocess.Popen:
    args = ["compare", "--executor", "ray", "--address", address, "--seeds", "1"]
    return start_initcmp(cwd, *args, *SYNTHETIC_ARGS)


def _stderr(process: subprocess.Popen, timeout: float) -> str:
    """Its stderr once it ends; killed if it runs past `timeout` (Ray's own retries on a
    wrong address went on for 12 minutes)."""
    try:
        return process.communicate(timeout=timeout)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server():
    """A port that accepts TCP connections and never says a word, as a wrong service or
    a half-dead head would: `.port`, and `.held`, the connections it accepted."""
    import socket
    import threading
    from types import SimpleNamespace

    server = socket.create_server(("", 0))
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield SimpleNamespace(port=server.getsockname()[1], held=held)
    server.close()
    for connection in held:
        connection.close()


@pytest.mark.parametrize("kind", ["unknown host", "closed port", "not a Ray head"])
def test_a_wrong_address_fails_in_seconds_with_one_line_naming_it(tmp_path, silent_server, kind):
    import time

    address, says = {
        "unknown host": ("nohost:1", "no host named 'nohost' is known"),
        "closed port": (f"127.0.0.1:{_free_port()}", "nothing listens on port"),
        "not a Ray head": (
            f"127.0.0.1:{silent_server.port}",
            "it accepts connections but no Ray head answers",
        ),
    }[kind]
    start = time.monotonic()
    process = _compare_at(address, tmp_path)
    stderr = _stderr(process, timeout=60)
    assert process.returncode == 2 and time.monotonic() - start < 10, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert errors == [stderr.strip().splitlines()[-1]], stderr[-2000:]  # Ray printed none
    assert errors[0].startswith(f"initcmp: error: cannot join the Ray cluster at {address}")
    assert says in errors[0]


def test_ctrl_c_while_trying_an_address_stops_at_once(tmp_path, silent_server):
    """SIGINT while the address is being tried (it waits PROBE_SECONDS for an answer that
    never comes) ends the command at once: 130, one line."""
    import signal
    import time

    process = _compare_at(f"127.0.0.1:{silent_server.port}", tmp_path)
    deadline = time.monotonic() + 60
    while len(silent_server.held) < 2 and time.monotonic() < deadline:  # TCP, then gRPC
        time.sleep(0.01)
    assert len(silent_server.held) == 2, "the address was never tried"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    stderr = _stderr(process, timeout=60)
    assert process.returncode == 130 and time.monotonic() - sent < 2, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == "initcmp: error: interrupted (Ctrl-C)"


def test_a_sweep_on_ray_gives_the_local_numbers(tmp_path, monkeypatch):
    """The Ray executor takes a sweep's runs as it takes a comparison's: one task per
    stack (here one per depth), the same numbers as on this process."""
    grid = ["--grid", "init.name=he,glorot", "--grid", "model.depth=1,2", "--seeds", "1"]
    args = ["sweep", *SYNTHETIC_ARGS, *grid, "--steps", "10"]
    for folder in ("here", "ray"):
        (tmp_path / folder).mkdir()
    assert invoke(tmp_path / "here", monkeypatch, *args).exit_code == 0
    on_ray = invoke(
        tmp_path / "ray", monkeypatch, *args, "--executor", "ray", "--set", "ray.num_cpus=2"
    )
    assert on_ray.exit_code == 0, on_ray.stderr
    assert "ray: 4 runs in 2 tasks" in on_ray.stderr
    assert records(tmp_path / "ray") == records(tmp_path / "here")
    assert _ray_processes() == 0
