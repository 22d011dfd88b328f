"""A sweep is a named experiment of its own: its spec and files in a folder no other sweep
writes to, `report --sweep NAME` rebuilding it from that spec, `runs` listing the sweeps,
and runs named by their whole config, reachable by folder name (`eval`, `rm --run`).
Synthetic data, a few steps a run."""

from __future__ import annotations

import json

from helpers import SYNTHETIC_ARGS, run_cli_in, start_initcmp

SMALL = [*SYNTHETIC_ARGS, "--steps", "6", "--seeds", "1", "--set", "eval.train_images=100"]


def sweeps(root) -> dict:
    """{sweep name: {file name: bytes}} of experiment mnist_mlp under `root`."""
    folder = root / "logs" / "mnist_mlp" / "sweeps"
    return {s.name: {f.name: f.read_bytes() for f in sorted(s.iterdir())} for s in folder.iterdir()}


def trained_once(root) -> bool:
    """Every run folder has one TensorBoard writer per training session: trained once."""
    runs = [p for p in (root / "logs" / "mnist_mlp").iterdir() if p.is_dir()]
    runs = [run for run in runs if run.name != "sweeps"]
    return all(len(list(run.glob("events.out.tfevents.*"))) == 1 for run in runs)


def test_sweeps_with_other_grids_or_settings_keep_their_own_files_and_report_by_name(
    tmp_path, monkeypatch
):
    grids = [
        ["--grid", "model.depth=1:2"],
        ["--grid", "model.depth=2:3"],  # shares depth 2 with the first
        ["--grid", "model.depth=1:2", "--set", "train.optimizer=sgd"],  # another setting
    ]
    for grid in grids:
        result = run_cli_in(tmp_path, monkeypatch, "sweep", *grid, *SMALL)
        assert result.exit_code == 0, result.output
    files = sweeps(tmp_path)
    assert len(files) == 3  # three folders, each with its spec and its own table
    assert all(
        {"spec.yaml", "sweep.json", "sweep.md", "sweep.csv", "sweep.png"} <= set(f)
        for f in files.values()
    )
    runs = [p for p in (tmp_path / "logs" / "mnist_mlp").iterdir() if p.is_dir()]
    runs = [p.name for p in runs if p.name != "sweeps"]
    assert len(runs) == 5  # adam depth 1, 2, 3 (2 shared) and sgd depth 1, 2: own folders
    assert trained_once(tmp_path)
    for name, before in files.items():
        for f in ("sweep.json", "sweep.md", "sweep.csv", "sweep.png"):
            (tmp_path / "logs" / "mnist_mlp" / "sweeps" / name / f).unlink()
        again = run_cli_in(tmp_path, monkeypatch, "report", "--sweep", name)
        assert again.exit_code == 0, again.output
        assert sweeps(tmp_path)[name] == before  # its own table, byte for byte


def test_sweeps_at_once_neither_overwrite_nor_train_a_run_twice(tmp_path, monkeypatch):
    """Three at once: two grids that share depth 2, and the first grid with another fixed
    setting (SGD), whose runs are its own."""

    def start(*grid):
        return start_initcmp(tmp_path, "sweep", *grid, *SMALL)

    first, second = start("--grid", "model.depth=1:2"), start("--grid", "model.depth=2:3")
    third = start("--grid", "model.depth=1:2", "--set", "train.optimizer=sgd")
    for child in (first, second, third):
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
    files = sweeps(tmp_path)
    assert len(files) == 3
    tables = [json.loads(f["sweep.json"]) for f in files.values()]
    assert sorted(t["axes"]["model.depth"] for t in tables) == [[1, 2], [1, 2], [2, 3]]
    runs = [p for p in (tmp_path / "logs" / "mnist_mlp").iterdir() if p.is_dir()]
    assert len([p for p in runs if p.name != "sweeps"]) == 5
    assert trained_once(tmp_path)
    for name, before in files.items():
        again = run_cli_in(tmp_path, monkeypatch, "report", "--sweep", name)
        assert again.exit_code == 0, again.output
        assert sweeps(tmp_path)[name] == before  # its own table, byte for byte


def test_a_given_name_is_kept_and_a_clash_is_refused(tmp_path, monkeypatch):
    first = run_cli_in(
        tmp_path, monkeypatch, "sweep", "--grid", "model.depth=1", *SMALL, "--name", "mine"
    )
    assert first.exit_code == 0, first.output
    assert "initcmp report --sweep mine" in first.stdout
    clash = run_cli_in(
        tmp_path, monkeypatch, "sweep", "--grid", "model.depth=2", *SMALL, "--name", "mine"
    )
    assert clash.exit_code == 2
    assert "sweep 'mine' of 'mnist_mlp' exists with another spec" in clash.stderr
    assert "sweep.grid.model.depth" in clash.stderr
    unknown = run_cli_in(tmp_path, monkeypatch, "report", "--sweep", "other")
    assert unknown.exit_code == 2 and "no sweep 'other'" in unknown.stderr
    assert "its sweeps: mine" in unknown.stderr
    listing = run_cli_in(tmp_path, monkeypatch, "runs")
    assert "mine  1 of 1 runs finished (1 model.depth x 1 seed, 6 steps each)" in listing.stdout
    as_json = json.loads(run_cli_in(tmp_path, monkeypatch, "runs", "--json").stdout)
    assert as_json["sweeps"] == [
        {
            "name": "mine",
            "shape": "1 model.depth x 1 seed",
            "budget": "6 steps",
            "runs": 1,
            "finished": 1,
        }
    ]


def test_a_sweeps_run_is_reached_by_its_folder_name(tmp_path, monkeypatch):
    result = run_cli_in(tmp_path, monkeypatch, "sweep", "--grid", "model.depth=1", *SMALL)
    assert result.exit_code == 0, result.output
    (run,) = [p.name for p in (tmp_path / "checkpoints" / "mnist_mlp").iterdir() if p.is_dir()]
    assert run.startswith("depth=1,he-s0@")
    evaluated = run_cli_in(tmp_path, monkeypatch, "eval", "--run", run, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    recorded = json.loads((tmp_path / "logs" / "mnist_mlp" / run / "result.json").read_text())
    assert json.loads(evaluated.stdout)["test_accuracy"] == recorded["test_accuracy"]
    wrong = run_cli_in(tmp_path, monkeypatch, "rm", "--run", "depth=9,he-s0@00000000", "--yes")
    assert wrong.exit_code == 2 and f"its runs: {run}" in wrong.stderr
    removed = run_cli_in(tmp_path, monkeypatch, "rm", "--run", run, "--yes")
    assert removed.exit_code == 0, removed.output
    assert not (tmp_path / "checkpoints" / "mnist_mlp" / run).exists()


def test_a_sweep_runs_start_over_names_that_run():
    from initcmp.engine import checkpoints
    from helpers import load_config

    cfg = load_config(overrides=("sweep.grid={model.depth: [2]}", "model.depth=2"))
    line = checkpoints.start_over(cfg)
    assert f"`initcmp rm --run '{cfg.run_name}' --yes`" in line and "@" in cfg.run_name
    assert "initcmp train --init he --seed 0 --fresh" in checkpoints.start_over(load_config())


def test_a_log_dir_that_cannot_be_made_leaves_no_empty_run_folder(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    flags = ["--set", "train.steps=2", *SYNTHETIC_ARGS, "--log-dir", str(tmp_path / "a-file")]
    result = run_cli_in(tmp_path, monkeypatch, "train", *flags)
    assert result.exit_code == 2 and "cannot create" in result.stderr
    assert not (tmp_path / "checkpoints" / "mnist_mlp" / "he-s0").exists()


def test_the_shipped_sweeps_keep_their_names_and_their_runs_folders():
    """The names the docs quote, and the run folders an existing logs/ holds: a new config
    section or key at its default must not rename them."""
    from initcmp.config import resolve
    from initcmp.experiments import sweep

    for preset, name, first in [
        ("edge_of_chaos", "depth-scale-bd7ebef2", "scale=1,depth=10,variance_scaling-s0@18f0d71d"),
        ("he_depth", "name-depth-55f89dd5", "depth=5,glorot-s0@3c8eda3d"),
    ]:
        cfg = resolve.load(preset)
        assert sweep.name(cfg) == name
        assert sweep.plan(cfg)[0].runs[0].run_name == first
