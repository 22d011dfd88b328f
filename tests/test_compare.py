"""`compare` and `report` on the synthetic set: skipping, resuming, divergence, files."""

import json

import pytest
from click.testing import CliRunner

from initcmp.experiments import compare
from initcmp.config import resolve
from initcmp.data import sources
from initcmp.engine import train
from initcmp.engine.reporter import Reporter
from initcmp.cli.main import main
from initcmp.store.records import RunPaths
from helpers import SYNTHETIC, SYNTHETIC_ARGS, load_config


class Counting(Reporter):
    def __init__(self):
        self.trained, self.skipped_runs = [], []

    def start(self, cfgs, total_steps, resumed_from_step, source):
        self.group = [cfg.run_name for cfg in cfgs]
        self.trained += [(name, resumed_from_step) for name in self.group]

    def skipped(self, cfg, result):
        self.skipped_runs.append(cfg.run_name)


def small(*extra):
    return load_config(
        overrides=SYNTHETIC + ("compare.inits=[glorot, he]", "compare.seeds=[0, 1]") + extra
    )


def run_compare(tmp, cfg, **kw):
    return compare.run(
        cfg, sources.synthetic, checkpoint_root=tmp / "ck", log_root=tmp / "logs", **kw
    )


def test_plan_is_every_init_for_every_seed_and_paired():
    cfg = load_config(init="random", overrides=SYNTHETIC + ("init.stddev=0.5",))
    runs = compare.plan(cfg)
    assert [r.run_name for r in runs] == [
        "random-s0",
        "random-s1",
        "random-s2",
        "glorot-s0",
        "glorot-s1",
        "glorot-s2",
        "he-s0",
        "he-s1",
        "he-s2",
    ]
    assert runs[0].init.params["stddev"] == 0.5  # the config's own init keeps its params
    assert all(r.train == cfg.train and r.data == cfg.data for r in runs)


def test_runs_are_the_same_as_train_and_finished_runs_are_skipped(tmp_path, syn):
    cfg = small()
    first = Counting()
    results = run_compare(tmp_path, cfg, reporter=first)
    assert [name for name, _ in first.trained] == ["glorot-s0", "glorot-s1", "he-s0", "he-s1"]
    alone = train.run(
        resolve.for_run(cfg, "he", 1),
        syn,
        checkpoint_root=tmp_path / "alone",
        log_root=tmp_path / "alone",
    )
    he1 = next(r for r in results if r["init"] == "he" and r["seed"] == 1)
    assert he1["weights_sha256"] == alone["weights_sha256"]
    assert he1["curve"][-1] == (24, he1["test_accuracy"])

    def no_data():
        raise AssertionError("a finished comparison must not load data")

    second = Counting()
    again = compare.run(
        cfg, no_data, checkpoint_root=tmp_path / "ck", log_root=tmp_path / "logs", reporter=second
    )
    assert second.trained == [] and len(second.skipped_runs) == 4
    assert again == results


class CrashInSecondRun(Counting):
    """A crash at step 13 of the group that holds glorot-s1."""

    def progress(self, step, metrics):
        if "glorot-s1" in self.group and step == 13:
            raise RuntimeError("power cut")


def strip(results):
    return [
        {
            k: v
            for k, v in r.items()
            if k not in ("seconds", "checkpoint_dir", "log_dir", "trained_with")
        }
        for r in results
    ]


@pytest.mark.parametrize("fuse", [True, False])
def test_an_interrupted_compare_resumes_and_matches(tmp_path, fuse):
    cfg = small(
        "checkpoint.every_steps=5", "log.every_steps=1", f"compare.fuse={str(fuse).lower()}"
    )
    reference = run_compare(tmp_path / "ref", cfg)

    with pytest.raises(RuntimeError):
        run_compare(tmp_path / "cut", cfg, reporter=CrashInSecondRun())
    resumed = Counting()
    results = run_compare(tmp_path / "cut", cfg, reporter=resumed)
    if fuse:  # all four trained together, and resume together from the last checkpoint
        assert resumed.skipped_runs == [] and {s for _, s in resumed.trained} == {10}
    else:
        assert resumed.skipped_runs == ["glorot-s0"]
        assert resumed.trained[0] == ("glorot-s1", 10)
    assert strip(results) == strip(reference)


def test_runs_at_different_steps_resume_in_separate_groups(tmp_path):
    one_by_one = small("checkpoint.every_steps=5", "log.every_steps=1", "compare.fuse=false")
    reference = run_compare(tmp_path / "ref", one_by_one)

    with pytest.raises(RuntimeError):  # glorot-s0 done, glorot-s1 at step 10, he not started
        run_compare(tmp_path / "cut", one_by_one, reporter=CrashInSecondRun())
    resumed = Counting()
    results = run_compare(
        tmp_path / "cut", small("checkpoint.every_steps=5", "log.every_steps=1"), reporter=resumed
    )
    assert resumed.trained == [("glorot-s1", 10), ("he-s0", 0), ("he-s1", 0)]
    assert strip(results) == strip(reference)


def test_a_diverged_run_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    cfg = load_config(
        init="random",
        overrides=SYNTHETIC
        + ("init.stddev=1.0e+30", "compare.inits=[random, he]", "compare.seeds=[0]"),
    )
    results = run_compare(tmp_path, cfg)
    assert [(r["init"], r["diverged"]) for r in results] == [("random", True), ("he", False)]
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(
        main,
        [
            "report",
            "--checkpoint-dir",
            "ck",
            "--log-dir",
            "logs",
            *SYNTHETIC_ARGS,
            "--set",
            "init={name: random, stddev: 1.0e+30}",
            "--set",
            "compare.inits=[random, he]",
            "--set",
            "compare.seeds=[0]",
        ],
    )
    assert out.exit_code == 0, out.stderr
    assert "1 (1 diverged)" in out.stdout and "diverged" in out.stdout


def test_cli_compare_then_report_gives_the_same_summary_and_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [*SYNTHETIC_ARGS, "--inits", "random,he", "--seeds", "2"]
    first = CliRunner().invoke(main, ["compare", *args, "--json"])
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)
    assert [r["init"] for r in summary["rows"]] == ["random", "he"]
    for r in summary["rows"]:
        for key in (
            "runs",
            "mean_accuracy",
            "std_accuracy",
            "ci95",
            "mean_loss",
            "diverged",
            "runs_detail",
        ):
            assert key in r
        assert r["runs"] == 2 and r["notebook"] is None  # synthetic: no notebook column
    folder = tmp_path / "logs" / "mnist_mlp"
    for ext in ("json", "csv", "md", "png"):
        assert (folder / f"compare.{ext}").is_file()
    md = (folder / "compare.md").read_text()
    (folder / "compare.md").unlink()

    reported = CliRunner().invoke(main, ["report", *args, "--json"])
    assert json.loads(reported.stdout) == summary
    assert (folder / "compare.md").read_text() == md

    table = CliRunner().invoke(main, ["compare", *args])
    assert "finished earlier" in table.stderr and "paired" in table.stdout


def test_report_with_no_runs_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["report"])
    assert out.exit_code == 2
    assert out.stderr.strip().startswith("initcmp: error: no finished runs of experiment")
    assert "initcmp compare" in out.stderr


def test_compare_seeds_and_inits_flags_are_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = CliRunner().invoke(main, ["compare", "--inits", "he,xaviar"])
    assert bad.exit_code == 2 and "xaviar" in bad.stderr and "Traceback" not in bad.stderr
    zero = CliRunner().invoke(main, ["compare", "--seeds", "0"])
    assert zero.exit_code == 2 and "--seeds" in zero.stderr


def test_the_plan_is_the_same_runs_as_for_run_makes(tmp_path):
    cfg = load_config(
        init="random", overrides=SYNTHETIC + ("compare.inits=[random, lsuv]", "init.stddev=0.5")
    )
    slow = [resolve.for_run(cfg, i, s) for i in cfg.compare.inits for s in cfg.compare.seeds]
    assert compare.plan(cfg) == slow


def test_extending_one_run_keeps_its_comparison(tmp_path, monkeypatch):
    """`train --epochs 3` on a compare's run: the comparison reads it at its own epochs
    from its metrics, never retrains or deletes it, and compare and report agree."""
    monkeypatch.chdir(tmp_path)
    args = [*SYNTHETIC_ARGS, "--inits", "glorot,he", "--seeds", "2"]
    first = CliRunner().invoke(main, ["compare", *args, "--json"])
    assert first.exit_code == 0, first.stderr
    extended = CliRunner().invoke(main, ["train", "--init", "glorot", "--epochs", "3", *args[:2]])
    assert extended.exit_code == 0, extended.stderr
    result = tmp_path / "logs/mnist_mlp/glorot-s0/result.json"
    three_epochs = result.read_text()

    again = CliRunner().invoke(main, ["compare", *args, "--json"])
    assert again.exit_code == 0, again.stderr
    assert result.read_text() == three_epochs  # not retrained, not deleted
    before, after = json.loads(first.stdout), json.loads(again.stdout)

    def numbers(summary):
        keys = ("seed", "test_accuracy", "test_loss", "step")
        return [[{k: d[k] for k in keys} for d in r["runs_detail"]] for r in summary["rows"]]

    assert numbers(after) == numbers(before) and after["best"] == before["best"]
    assert [r["mean_accuracy"] for r in after["rows"]] == [
        r["mean_accuracy"] for r in before["rows"]
    ]
    for report_args in ([*args, "--json"], [*SYNTHETIC_ARGS, "--json"]):
        reported = CliRunner().invoke(main, ["report", *report_args])
        assert reported.exit_code == 0, reported.stderr
        assert json.loads(reported.stdout) == after
    table = CliRunner().invoke(main, ["compare", *args])
    assert "having trained further: glorot-s0" in table.stdout

    longer = CliRunner().invoke(main, ["report", *SYNTHETIC_ARGS, "--epochs", "3"])
    assert "3 planned runs have not finished 3 epochs" in longer.stdout
    assert json.loads((tmp_path / "logs/mnist_mlp/compare.json").read_text()) == after


def test_a_run_trained_further_without_its_metrics_offers_a_fix_for_it_alone(tmp_path, syn):
    he = load_config(init="he", epochs=2, overrides=SYNTHETIC)
    train.run(he, syn, checkpoint_root=tmp_path / "ck", log_root=tmp_path / "logs")
    paths = RunPaths.of(he, tmp_path / "ck", tmp_path / "logs")
    paths.metrics.unlink()  # nothing to read the run at epoch 1 from
    out = CliRunner().invoke(
        main,
        [
            "compare",
            *SYNTHETIC_ARGS,
            "--inits",
            "he",
            "--seeds",
            "1",
            "--checkpoint-dir",
            str(tmp_path / "ck"),
            "--log-dir",
            str(tmp_path / "logs"),
        ],
    )
    assert out.exit_code == 2 and "already trained 48 steps" in out.stderr
    # compare --fresh would delete every run of the comparison: not offered.
    assert "--fresh" not in out.stderr.replace("initcmp train --init he --seed 0 --fresh", "")
    assert "initcmp train --init he --seed 0 --fresh" in out.stderr
    assert "--epochs 2 or more" in out.stderr


class Calls(Reporter):
    """The order in which a comparison tells its reporter what it does."""

    def __init__(self):
        self.calls = []

    def compare_start(self, cfg, runs, shape):
        self.calls.append(("compare_start", runs))

    def skipped(self, cfg, result):
        self.calls.append(("skipped", cfg.run_name))

    def compare_plan(self, finished, to_train, steps, work=None):
        self.calls.append(("compare_plan", finished, to_train, steps))

    def start(self, cfgs, total_steps, resumed_from_step, source):
        self.calls.append(("start", [c.run_name for c in cfgs]))


def test_compare_says_at_once_how_many_runs_then_how_many_to_train_and_the_eta(tmp_path, syn):
    import io

    from rich.console import Console

    from initcmp.report.progress import ConsoleReporter

    cfg = load_config(overrides=SYNTHETIC + ("compare.inits=[he]", "compare.seeds=[0, 1, 2]"))
    train.run(
        resolve.for_run(cfg, "he", 1),
        syn,
        checkpoint_root=tmp_path / "ck",
        log_root=tmp_path / "logs",
    )
    calls = Calls()
    run_compare(
        tmp_path,
        load_config(overrides=SYNTHETIC + ("compare.inits=[he]", "compare.seeds=[1]")),
        reporter=calls,
    )
    assert calls.calls == [("compare_start", 1), ("skipped", "he-s1"), ("compare_plan", 1, 0, 0)]

    text = io.StringIO()
    one_by_one = load_config(
        overrides=SYNTHETIC
        + ("compare.inits=[he]", "compare.seeds=[0, 1, 2]", "compare.fuse=false")
    )
    with ConsoleReporter(Console(file=text, width=200)) as reporter:
        run_compare(tmp_path, one_by_one, reporter=reporter)
    lines = text.getvalue().splitlines()
    assert lines[0] == "mnist_mlp: 3 runs (1 initializer x 3 seeds); reading their records"
    assert "mnist_mlp: 1 already finished, 2 to train, 48 steps in all" in lines
    eta = [line for line in lines if "left in all" in line]
    assert len(eta) == 1 and eta[0].endswith("(24 of 48 steps)")  # before the second run
