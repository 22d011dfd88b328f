"""`report` from the runs' own records (experiments/results.py), on hand-made records: what it
covers, how it labels it, runs read at the comparison's epochs, files it must not
replace; and the comparison's pace (progress.Pace). Nothing here trains."""

import json

import pytest

from initcmp.store import records
from initcmp.experiments import results
from initcmp.config.resolve import for_run
from initcmp.report.progress import Pace, clock
from initcmp.store.records import RunPaths
from helpers import load_config, run_cli_in

STEPS = 10  # steps per epoch of the hand-made runs


def fake_run(root, cfg, init, seed, accuracy, epochs=1):
    """A finished run as training leaves it: config.yaml (with the epochs it trained),
    one metrics row per epoch end, result.json."""
    run_cfg = results.at_epochs(for_run(cfg, init, seed), epochs)
    paths = RunPaths.of(run_cfg, root / "checkpoints", root / "logs")
    paths.create()
    records.write_config(paths, run_cfg)
    for epoch in range(1, epochs + 1):
        records.append_metrics(paths, _row(epoch, accuracy + (epoch - 1) / 100))
    last = _row(epochs, accuracy + (epochs - 1) / 100)
    records.write_result(
        paths,
        {
            **last,
            "name": cfg.name,
            "init": init,
            "seed": seed,
            "epochs": epochs,
            "diverged": False,
            "diverged_step": None,
            "trained_with": 1,
            "weights_sha256": f"{init}{seed}",
        },
    )
    return paths


def _row(epoch, accuracy):
    return {
        "step": epoch * STEPS,
        "epoch": float(epoch),
        "train_loss": 0.5,
        "train_accuracy": accuracy,
        "test_loss": 1 - accuracy,
        "test_accuracy": accuracy,
        "seconds": float(epoch),
    }


DEEP = ("name=deep", "model.hidden=[16, 16, 16]", "train.optimizer=sgd")
FIVE = "compare.inits=[random, glorot, he, orthogonal, lsuv]"


def report_json(root, monkeypatch, *args):
    out = run_cli_in(root, monkeypatch, "report", *args, "--json")
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout), out


def test_report_labels_runs_from_their_own_configs_not_the_command_lines(tmp_path, monkeypatch):
    cfg = load_config(overrides=DEEP + (FIVE,))
    for i, init in enumerate(cfg.compare.inits):
        for seed in range(3):
            fake_run(tmp_path, cfg, init, seed, 0.5 + i / 10 + seed / 100)
    summary, _ = report_json(tmp_path, monkeypatch, "--set", "name=deep")
    # Every run, in the order of its own compare.inits, and not the notebook's numbers.
    assert [r["init"] for r in summary["rows"]] == ["random", "glorot", "he", "orthogonal", "lsuv"]
    assert all(r["runs"] == 3 and r["notebook"] is None for r in summary["rows"])
    assert summary["missing_runs"] == 0
    assert json.loads((tmp_path / "logs/deep/compare.json").read_text()) == summary


def test_the_notebook_column_only_when_every_run_is_the_notebooks(tmp_path, monkeypatch):
    cfg = load_config()  # the notebook's experiment: its numbers belong beside it
    for i, init in enumerate(["he", "glorot", "random"]):
        fake_run(tmp_path, cfg, init, 0, 0.9 + i / 100)
    summary, _ = report_json(tmp_path, monkeypatch)
    assert [r["init"] for r in summary["rows"]] == ["random", "glorot", "he"]
    assert [r["notebook"] for r in summary["rows"]] == [0.8535, 0.965, 0.9634]

    # One run of another model in the same experiment: nobody gets the notebook's number,
    # and an initializer no comparison listed comes last.
    fake_run(tmp_path, load_config(overrides=("model.hidden=[512, 512]",)), "lsuv", 0, 0.97)
    summary, _ = report_json(tmp_path, monkeypatch)
    assert [r["init"] for r in summary["rows"]] == ["random", "glorot", "he", "lsuv"]
    assert all(r["notebook"] is None for r in summary["rows"])


def test_a_subset_report_leaves_the_full_comparisons_files_as_they_are(tmp_path, monkeypatch):
    cfg = load_config(overrides=DEEP)
    for init in cfg.compare.inits:
        for seed in range(2):
            fake_run(tmp_path, cfg, init, seed, 0.9)
    full, _ = report_json(tmp_path, monkeypatch, "--set", "name=deep")
    folder = tmp_path / "logs/deep"
    before = {p.name: p.read_bytes() for p in folder.glob("compare.*")}
    assert len(before) == 4

    table = run_cli_in(tmp_path, monkeypatch, "report", "--set", "name=deep", "--seeds", "1")
    assert table.exit_code == 0, table.stderr
    assert "glorot" in table.stdout and "wrote" not in table.stdout
    assert "as they are" in table.stdout and "3 runs" in table.stdout
    assert "glorot-s1, he-s1, random-s1" in table.stdout

    subset, out = report_json(tmp_path, monkeypatch, "--set", "name=deep", "--inits", "he")
    assert [r["init"] for r in subset["rows"]] == ["he"]
    assert "as they are" in out.stderr
    assert {p.name: p.read_bytes() for p in folder.glob("compare.*")} == before

    again, out = report_json(tmp_path, monkeypatch, "--set", "name=deep")  # all of them
    assert again == full and "as they are" not in out.stderr


def test_a_run_trained_further_is_read_at_the_comparisons_epochs(tmp_path, monkeypatch):
    cfg = load_config(overrides=("compare.inits=[glorot, he]",))
    fake_run(tmp_path, cfg, "glorot", 0, 0.80, epochs=3)  # `train --epochs 3` on it
    fake_run(tmp_path, cfg, "glorot", 1, 0.82)
    fake_run(tmp_path, cfg, "he", 0, 0.90)
    summary, _ = report_json(tmp_path, monkeypatch)
    glorot = summary["rows"][0]
    assert [d["test_accuracy"] for d in glorot["runs_detail"]] == [0.80, 0.82]  # epoch 1
    assert [d["step"] for d in glorot["runs_detail"]] == [STEPS, STEPS]
    assert glorot["epochs"] == 1 and summary["missing_runs"] == 0
    table = run_cli_in(tmp_path, monkeypatch, "report")
    assert "having trained further: glorot-s0" in table.stdout

    longer = run_cli_in(tmp_path, monkeypatch, "report", "--epochs", "3")
    assert longer.exit_code == 0, longer.stderr
    assert "2 planned runs have not finished 3 epochs (glorot-s1, he-s0)" in longer.stdout
    assert "as they are" in longer.stdout  # the 1-epoch comparison's files stay
    three, _ = report_json(tmp_path, monkeypatch, "--epochs", "3")
    assert [d["test_accuracy"] for d in three["rows"][0]["runs_detail"]] == [pytest.approx(0.82)]


def test_a_run_that_stopped_at_the_epoch_end_before_its_result_is_not_read_early(tmp_path):
    """Killed between its last checkpoint and result.json: it resumes to write its
    result (and weights fingerprint), rather than being read from its metrics."""
    cfg = load_config()
    paths = fake_run(tmp_path, cfg, "he", 0, 0.9, epochs=2)
    (paths.checkpoints / f"ckpt-{2 * STEPS}.index").write_text("")
    paths.result.unlink()
    run_cfg = for_run(cfg, "he", 0)
    assert records.finished(results.at_epochs(run_cfg, 2), paths) is None
    at_one = records.finished(run_cfg, paths)  # trained past epoch 1's end: read there
    assert at_one["step"] == STEPS and at_one["trained_further"]
    assert at_one["weights_sha256"] is None


def test_what_a_command_line_asks_of_a_report():
    cfg = load_config(overrides=("compare.seeds=[0]",))
    assert results.Selection.asked(cfg, set()) == results.Selection()
    asked = results.Selection.asked(cfg, {"compare.seeds", "train.epochs"})
    assert asked == results.Selection(None, (0,), 1)
    assert results.Selection.asked(cfg, {"compare"}).inits == cfg.compare.inits


def test_the_pace_counts_from_the_first_stacks_start_and_drops_what_will_not_train():
    now = [100.0]
    pace = Pace(1000, clock=lambda: now[0])
    assert pace.seconds_left() is None
    pace.begin()  # the first stack starts (then compiles): the clock starts here
    now[0] += 60
    assert pace.seconds_left() is None  # nothing trained yet
    pace.advance(300)  # 300 steps in 60 s
    pace.begin()  # a later stack: the clock runs on
    assert pace.seconds_left() == pytest.approx(700 * 60 / 300)
    pace.drop(400)  # a run diverged: its steps left will never be trained
    assert pace.left == 300 and pace.seconds_left() == pytest.approx(60)
    assert clock(3725.4) == "1:02:05"
