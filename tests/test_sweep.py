"""`initcmp sweep` on the synthetic set: cells trained fused by shape, files and JSON,
reruns that train nothing, report from the records, a step budget that ends mid-epoch,
kill -9 and two sweeps sharing runs, each ending in the numbers of an undisturbed sweep."""

from __future__ import annotations

import json
import re

import pytest

from initcmp.store import records
from initcmp.engine import train
from helpers import (
    SYNTHETIC_ARGS,
    finished_runs,
    initcmp,
    run_cli_in,
    start_initcmp,
    synthetic_config,
)

# 2 x 2 cells x 2 seeds, 10 steps each (an epoch is 24), a small train-set evaluation.
GRID = ["--grid", "init.name=glorot,he", "--grid", "model.depth=1,2", "--seeds", "2"]
SMALL = [*SYNTHETIC_ARGS, "--steps", "10", "--set", "eval.train_images=200"]
SWEEP = ["sweep", *GRID, *SMALL]


def sweep_folder(root):
    """The one sweep's own folder, logs/mnist_mlp/sweeps/<name>/."""
    (folder,) = (root / "logs" / "mnist_mlp" / "sweeps").iterdir()
    return folder


def sweep_json(root) -> dict:
    return json.loads((sweep_folder(root) / "sweep.json").read_text())


def test_a_sweep_trains_every_cell_fused_by_shape_and_a_rerun_trains_nothing(tmp_path, monkeypatch):
    first = run_cli_in(tmp_path, monkeypatch, *SWEEP)
    assert first.exit_code == 0, first.output
    assert "8 runs (2 init.name x 2 model.depth x 2 seeds)" in first.stderr
    results = [json.loads(p.read_text()) for p in (tmp_path / "logs").rglob("result.json")]
    assert len(results) == 8
    assert {r["trained_with"] for r in results} == {4}  # depth 1 and depth 2: two stacks
    assert {r["step"] for r in results} == {10} and {r["steps"] for r in results} == {10}
    summary = sweep_json(tmp_path)
    assert summary["axes"] == {"init.name": ["glorot", "he"], "model.depth": [1, 2]}
    cells = summary["cells"]
    assert [c["values"] for c in cells][:2] == [
        {"init.name": "glorot", "model.depth": 1},
        {"init.name": "glorot", "model.depth": 2},
    ]
    for cell in cells:
        assert cell["runs"] == 2 and 0.2 < cell["mean_accuracy"] <= 1
        assert 0 < cell["mean_train_accuracy"] <= 1 and cell["std_accuracy"] is not None
    he = next(c for c in cells if c["values"]["init.name"] == "he")
    assert he["chi_1"] == pytest.approx(1.0) and he["xi_c"] == "inf"  # ReLU, He: critical
    glorot = next(c for c in cells if c["values"] == {"init.name": "glorot", "model.depth": 2})
    assert glorot["chi_1"] == pytest.approx(0.5, abs=1e-6)
    for ext in ("csv", "md", "png"):
        assert (sweep_folder(tmp_path) / f"sweep.{ext}").stat().st_size > 0

    again = run_cli_in(tmp_path, monkeypatch, *SWEEP, "--json")
    assert again.exit_code == 0
    assert "8 already finished, 0 to train" in again.stderr
    assert json.loads(again.stdout) == summary

    (sweep_folder(tmp_path) / "sweep.json").unlink()
    report = run_cli_in(tmp_path, monkeypatch, "report", *GRID, *SMALL)
    assert report.exit_code == 0, report.output
    assert sweep_json(tmp_path) == summary and "he" in report.stdout
    # a comparison's report of the same experiment leaves the sweep's cells out
    plain = run_cli_in(tmp_path, monkeypatch, "report", *SYNTHETIC_ARGS)
    assert plain.exit_code == 2 and "no finished runs of experiment" in plain.stderr


def test_dry_run_lists_the_runs_and_their_groups_and_trains_nothing(tmp_path, monkeypatch):
    result = run_cli_in(tmp_path, monkeypatch, *SWEEP, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "8 runs" in result.stdout and re.search(r"depth=2,he-s1@[0-9a-f]{8}: new", result.stdout)
    assert "2 groups would train" in result.stdout
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "logs").exists()
    listing = json.loads(run_cli_in(tmp_path, monkeypatch, *SWEEP, "--dry-run", "--json").stdout)
    assert len(listing["runs"]) == 8 and [len(s) for s in listing["stacks"]] == [4, 4]


def test_a_sweep_over_initializers_reads_the_runs_compare_trained(tmp_path, monkeypatch):
    common = [*SYNTHETIC_ARGS, "--seeds", "2", "--set", "eval.train_images=200"]
    compare = run_cli_in(tmp_path, monkeypatch, "compare", "--inits", "glorot,he", *common)
    assert compare.exit_code == 0
    table = json.loads((tmp_path / "logs" / "mnist_mlp" / "compare.json").read_text())
    result = run_cli_in(
        tmp_path, monkeypatch, "sweep", "--grid", "init.name=glorot,he", *common, "--json"
    )
    assert "4 already finished, 0 to train" in result.stderr
    cells = json.loads(result.stdout)["cells"]
    for row, cell in zip(table["rows"], cells):
        assert cell["values"] == {"init.name": row["init"]}
        assert cell["mean_accuracy"] == pytest.approx(row["mean_accuracy"], abs=1e-9)


def test_a_step_budget_ends_mid_epoch_evaluated_and_grows_like_epochs(tmp_path, syn):
    roots = dict(checkpoint_root=tmp_path / "ck", log_root=tmp_path / "logs")
    short = train.run(synthetic_config("he", "train.steps=30"), syn, **roots)
    assert short["step"] == 30 and short["epoch"] == pytest.approx(30 / 24)
    assert short["train_set_accuracy"] is not None
    paths = records.RunPaths.of(synthetic_config("he"), roots["checkpoint_root"], tmp_path / "logs")
    assert records.read_metrics(paths)[-1]["step"] == 30
    longer = train.run(synthetic_config("he", "train.steps=40"), syn, **roots)
    assert longer["resumed_from_step"] == 30 and longer["step"] == 40
    direct = train.run(
        synthetic_config("he", "train.steps=40"),
        syn,
        checkpoint_root=tmp_path / "ck2",
        log_root=tmp_path / "logs2",
    )
    assert direct["weights_sha256"] == longer["weights_sha256"]
    # the 30-step run is still read at its budget, from its metrics
    again = records.finished(synthetic_config("he", "train.steps=30"), paths)
    assert again["step"] == 30 and again["trained_further"]


def test_a_sweep_killed_and_rerun_ends_with_the_same_numbers(tmp_path, monkeypatch):
    """In one process, stacks in turn (a killed worker process: tests/test_workers.py)."""
    for folder in ("ref", "cut"):
        (tmp_path / folder).mkdir()
    run_cli_in(tmp_path / "ref", monkeypatch, *SWEEP)
    # 10 steps of the first stack, then step 9 of the second: its checkpoint at 8 is kept
    one = ["--set", "compare.workers=1"]
    killed = initcmp(
        tmp_path / "cut", *SWEEP, *one, "--set", "checkpoint.every_steps=4", kill="step:19"
    )
    assert killed.returncode == -9
    done_before = len(list((tmp_path / "cut" / "logs").rglob("result.json")))
    assert done_before == 4  # the first stack finished, the second was cut
    rerun = run_cli_in(
        tmp_path / "cut", monkeypatch, *SWEEP, *one, "--set", "checkpoint.every_steps=4"
    )
    assert rerun.exit_code == 0 and "4 already finished, 4 to train" in rerun.stderr
    assert "resuming from step 8" in rerun.stderr
    assert finished_runs(tmp_path / "cut") == finished_runs(tmp_path / "ref")


def test_two_sweeps_sharing_runs_never_train_one_twice(tmp_path, monkeypatch):
    (tmp_path / "ref").mkdir()
    both = ["sweep", *SMALL, "--grid", "init.name=glorot,he", "--seeds", "1"]
    run_cli_in(tmp_path / "ref", monkeypatch, *both, "--grid", "model.depth=1,2,3")
    (tmp_path / "two").mkdir()
    first = start_initcmp(tmp_path / "two", *both, "--grid", "model.depth=1,2")
    second = start_initcmp(tmp_path / "two", *both, "--grid", "model.depth=2,3")
    for child in (first, second):
        child.communicate(timeout=600)
        assert child.returncode == 0
    for run in (tmp_path / "two" / "logs" / "mnist_mlp").iterdir():
        if run.is_dir() and run.name != "sweeps":  # one TensorBoard writer a session: once
            assert len(list(run.glob("events.out.tfevents.*"))) == 1, run.name
    assert finished_runs(tmp_path / "two") == finished_runs(tmp_path / "ref")
