"""`compare` and `report` on the synthetic set: skipping, resuming, divergence, files."""

import json

import pytest
from click.testing import CliRunner

from initcmp import compare, config_load, data, train
from initcmp.progress import Reporter
from initcmp.cli import main
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
    return compare.run(cfg, data.synthetic, checkpoint_root=tmp / "ck", log_root=tmp / "logs", **kw)


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
        config_load.for_run(cfg, "he", 1),
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
    bad = CliRunner().invoke(main, ["compare", "--inits", "he,xavier"])
    assert bad.exit_code == 2 and "xavier" in bad.stderr and "Traceback" not in bad.stderr
    zero = CliRunner().invoke(main, ["compare", "--seeds", "0"])
    assert zero.exit_code == 2 and "--seeds" in zero.stderr
