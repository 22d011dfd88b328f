"""Statistics and rendering on hand-made run records: no training."""

import json

import numpy as np
import pytest
from scipy import stats as sp

from initcmp.report import render_compare
from initcmp.report import stats


def rec(init, seed, acc, loss=0.1, diverged=False, epochs=1, seconds=2.0, curve=None):
    return {
        "init": init,
        "seed": seed,
        "test_accuracy": acc,
        "test_loss": loss,
        "step": 469,
        "epochs": epochs,
        "seconds": seconds,
        "diverged": diverged,
        "diverged_step": 12 if diverged else None,
        "curve": curve or [(50, acc - 0.1), (469, acc)],
    }


RECORDS = (
    [rec("random", s, a) for s, a in enumerate([0.857, 0.857, 0.853])]
    + [rec("glorot", s, a) for s, a in enumerate([0.961, 0.960, 0.962])]
    + [rec("he", s, a) for s, a in enumerate([0.962, 0.963, 0.961])]
)


def row(summary, init):
    return next(r for r in summary["rows"] if r["init"] == init)


def test_row_statistics_match_numpy_and_scipy():
    summary = stats.summarise(RECORDS)
    r = row(summary, "random")
    acc = np.array([0.857, 0.857, 0.853])
    assert r["runs"] == 3 and r["diverged"] == 0
    assert r["mean_accuracy"] == pytest.approx(acc.mean())
    assert r["std_accuracy"] == pytest.approx(acc.std(ddof=1))
    half = sp.t.ppf(0.975, 2) * acc.std(ddof=1) / np.sqrt(3)
    assert r["ci95"] == pytest.approx([acc.mean() - half, acc.mean() + half])
    assert (r["min_accuracy"], r["max_accuracy"]) == (0.853, 0.857)
    assert r["notebook"] == 0.8535 and r["seconds"] == pytest.approx(2.0)
    assert [d["seed"] for d in r["runs_detail"]] == [0, 1, 2]


def test_best_and_paired_test_against_it():
    summary = stats.summarise(RECORDS)
    assert summary["best"] == "he"
    paired = {p["init"]: p for p in summary["paired"]}
    assert set(paired) == {"random", "glorot"}
    a, b = np.array([0.857, 0.857, 0.853]), np.array([0.962, 0.963, 0.961])
    assert paired["random"]["mean_difference"] == pytest.approx((a - b).mean())
    assert paired["random"]["p_value"] == pytest.approx(sp.ttest_rel(a, b).pvalue)
    assert paired["random"]["p_value"] < 0.01
    assert paired["glorot"]["shared_seeds"] == [0, 1, 2]


def test_pairing_is_by_seed_not_by_position():
    shuffled = [
        rec("a", 2, 0.90),
        rec("a", 0, 0.50),
        rec("a", 1, 0.70),
        rec("b", 0, 0.55),
        rec("b", 1, 0.76),
        rec("b", 2, 0.97),
    ]
    paired = stats.summarise(shuffled)["paired"][0]
    assert paired["init"] == "a" and paired["best"] == "b"
    assert paired["mean_difference"] == pytest.approx(-0.06)  # 0.05, 0.06, 0.07 apart


def test_diverged_runs_are_counted_not_averaged():
    records = [
        rec("zeros", 0, 0.1135),
        rec("zeros", 1, 0.098, diverged=True),
        rec("he", 0, 0.96),
        rec("he", 1, 0.97),
    ]
    summary = stats.summarise(records)
    z = row(summary, "zeros")
    assert z["runs"] == 2 and z["diverged"] == 1
    assert z["mean_accuracy"] == pytest.approx(0.1135) and z["std_accuracy"] is None
    assert z["ci95"] is None  # one finished run has no interval
    paired = summary["paired"][0]
    assert paired["shared_seeds"] == [0] and paired["p_value"] is None


def test_all_diverged_initializer_has_no_mean_and_is_shown_so():
    records = [rec("random", s, 0.098, diverged=True) for s in range(2)] + [
        rec("he", s, 0.96 + s / 100) for s in range(2)
    ]
    summary = stats.summarise(records, order=["random", "he"])
    assert row(summary, "random")["mean_accuracy"] is None
    assert summary["best"] == "he"
    cells = render_compare.table_rows(summary)[0]
    assert cells[0] == "random" and "2 diverged" in cells[1] and cells[2] == "diverged"
    assert "diverged" in render_compare.to_markdown(summary)


def test_order_follows_the_config_and_notebook_can_be_hidden():
    summary = stats.summarise(RECORDS, order=["he", "glorot", "random"], notebook={})
    assert [r["init"] for r in summary["rows"]] == ["he", "glorot", "random"]
    assert all(r["notebook"] is None for r in summary["rows"])


def test_identical_differences_give_no_p_value_rather_than_nan():
    records = [rec("a", s, 0.90) for s in range(3)] + [rec("b", s, 0.95) for s in range(3)]
    paired = stats.summarise(records)["paired"][0]
    assert paired["mean_difference"] == pytest.approx(-0.05) and paired["p_value"] is None


def test_files_are_written_and_consistent(tmp_path):
    summary = stats.summarise(RECORDS)
    paths = render_compare.write_files(summary, RECORDS, tmp_path)
    assert [p.name for p in paths] == ["compare.json", "compare.csv", "compare.md", "compare.png"]
    assert json.loads(paths[0].read_text()) == json.loads(json.dumps(summary))
    csv_lines = paths[1].read_text().splitlines()
    assert csv_lines[0].startswith("init,runs,diverged,mean_accuracy")
    assert [line.split(",")[0] for line in csv_lines[1:]] == ["random", "glorot", "he"]
    md = paths[2].read_text()
    assert "| he | 3 | 96.20 ± 0.10 |" in md and "85.35" in md
    png = paths[3].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_runs_at_chance_are_marked_and_the_notebook_column_only_for_its_experiment():
    records = [rec("glorot", s, a) for s, a in enumerate([0.11, 0.35, 0.10])] + [
        rec("he", s, a) for s, a in enumerate([0.91, 0.92, 0.93])
    ]
    summary = stats.summarise(records, notebook={})
    assert row(summary, "glorot")["at_chance"] == 2 and row(summary, "he")["at_chance"] == 0
    cells = render_compare.table_rows(summary)
    assert cells[0][1] == "3 (2 at chance)" and cells[1][1] == "3"
    assert "notebook" not in render_compare.to_markdown(summary)
    with_notebook = render_compare.to_markdown(stats.summarise(records))
    assert "notebook" in with_notebook.splitlines()[0]


def test_an_accuracy_interval_stays_within_0_and_1():
    """Two seeds at 29.8 % and 43.6 %: Student's t with one degree of freedom spans
    -41 % to 114 % unclipped; an accuracy's interval is clipped to what it can be."""
    import numpy as np

    from initcmp.report import stats

    raw = stats.ci95(np.array([0.298, 0.436]))
    assert raw[0] < 0 and raw[1] > 1
    mean, std, interval = stats.spread(np.array([0.298, 0.436]), stats.ACCURACY)
    assert interval == [0.0, 1.0] and mean == 0.367
    near = stats.ci95(np.array([0.95, 0.96, 0.97]), stats.ACCURACY)
    assert near == stats.ci95(np.array([0.95, 0.96, 0.97]))  # inside: unchanged
