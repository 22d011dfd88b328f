"""Statistics over run records: per-initializer summaries and paired tests against the best.

Pure functions of plain records (no training, no TensorFlow), so they are tested on
hand-made records. Runs that diverged are counted but left out of accuracy statistics;
a paired test uses only seeds where both initializers finished without diverging.
"""

from __future__ import annotations

import math

import numpy as np

# The notebook's published single-run accuracies after one epoch.
NOTEBOOK = {"random": 0.8535, "glorot": 0.9650, "he": 0.9634}
# A run under twice chance (10 classes) has not learned: the table marks it.
CHANCE_LEVEL = 0.2


def summarise(
    records: list[dict], order: list[str] | None = None, notebook: dict[str, float] = NOTEBOOK
) -> dict:
    """{"rows": [...per init...], "best": init, "paired": [...each init vs best...]}.

    `notebook` gives the published number shown beside each initializer (pass {} when
    the experiment is not the notebook's MNIST)."""
    inits = order or list(dict.fromkeys(r["init"] for r in records))
    by_init = {init: [r for r in records if r["init"] == init] for init in inits}
    rows = [_row(init, runs, notebook.get(init)) for init, runs in by_init.items() if runs]
    ranked = [r for r in rows if r["mean_accuracy"] is not None]
    best = max(ranked, key=lambda r: r["mean_accuracy"])["init"] if ranked else None
    paired = [
        _paired(row["init"], best, by_init)
        for row in rows
        if best is not None and row["init"] != best
    ]
    return {"rows": rows, "best": best, "paired": paired}


def _row(init: str, runs: list[dict], notebook: float | None) -> dict:
    good = [r for r in runs if not r.get("diverged")]
    acc = np.array([r["test_accuracy"] for r in good], dtype=float)
    loss = np.array([r["test_loss"] for r in good], dtype=float)
    n = len(acc)
    mean, std, interval = spread(acc, ACCURACY)
    return {
        "init": init,
        "runs": len(runs),
        "diverged": len(runs) - n,
        "at_chance": int(np.sum(acc < CHANCE_LEVEL)),
        "mean_accuracy": mean,
        "std_accuracy": std,
        "ci95": interval,
        "min_accuracy": float(acc.min()) if n else None,
        "max_accuracy": float(acc.max()) if n else None,
        "mean_loss": float(loss.mean()) if n else None,
        "epochs": max(r["epochs"] for r in runs),
        "seconds": seconds_per_run(runs),
        "notebook": notebook,
        "runs_detail": [
            {
                k: r.get(k)
                for k in (
                    "seed",
                    "test_accuracy",
                    "test_loss",
                    "step",
                    "seconds",
                    "diverged",
                    "diverged_step",
                )
            }
            for r in sorted(runs, key=lambda r: r["seed"])
        ],
    }


# What an accuracy can be: its intervals are clipped to it.
ACCURACY = (0.0, 1.0)


def spread(
    values: np.ndarray, bounds: tuple[float, float] | None = None
) -> tuple[float | None, float | None, list[float] | None]:
    """Mean (None if empty), sample std (None below two values) and `ci95` of `values`
    (clipped to `bounds`, what the values can be)."""
    n = len(values)
    mean = float(values.mean()) if n else None
    return mean, float(values.std(ddof=1)) if n >= 2 else None, ci95(values, bounds)


def seconds_per_run(runs: list[dict]) -> float:
    """Training time per run: a run fused with K others is charged 1/K of the wall time."""
    return float(np.mean([(r.get("seconds") or 0.0) / (r.get("trained_with") or 1) for r in runs]))


def ci95(values: np.ndarray, bounds: tuple[float, float] | None = None) -> list[float] | None:
    """Student-t 95 % interval of the mean, within `bounds` if given (two seeds' interval
    of an accuracy can otherwise run from -46 % to 119 %); None with fewer than two
    values."""
    n = len(values)
    if n < 2:
        return None
    mean, sem = float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(n))
    if sem == 0.0:
        return [mean, mean]
    half = _t_quantile(0.975, n - 1) * sem
    low, high = bounds or (-math.inf, math.inf)
    return [max(low, mean - half), min(high, mean + half)]


def _t_quantile(q: float, df: int) -> float:
    # scipy.special rather than scipy.stats: the same functions scipy.stats.t calls,
    # without importing scipy.stats (over a second) at the end of every compare.
    from scipy.special import stdtrit

    return float(stdtrit(df, q))


def _t_two_sided_p(t: float, df: int) -> float:
    from scipy.special import stdtr

    return float(2.0 * stdtr(df, -abs(t)))


def _paired(init: str, best: str, by_init: dict[str, list[dict]]) -> dict:
    """Mean paired difference (init - best) over shared seeds, and the paired t-test p."""

    def accuracy_by_seed(init):
        return {r["seed"]: r["test_accuracy"] for r in by_init[init] if not r.get("diverged")}

    mine, theirs = accuracy_by_seed(init), accuracy_by_seed(best)
    seeds = sorted(mine.keys() & theirs.keys())
    a = np.array([mine[s] for s in seeds])
    b = np.array([theirs[s] for s in seeds])
    # Accuracies are stored to 6 decimals: round away float noise, or "identical"
    # differences would get a spurious p of 0 instead of an undefined test.
    diff = np.round(a - b, 9)
    p = None
    if len(seeds) >= 2 and np.ptp(diff) > 0:
        # The paired t-test (= scipy.stats.ttest_rel(a, b)) on the differences.
        n = len(diff)
        t = float(np.mean(diff)) / (float(np.std(diff, ddof=1)) / math.sqrt(n))
        p = _t_two_sided_p(t, n - 1)
        p = p if math.isfinite(p) else None
    return {
        "init": init,
        "best": best,
        "shared_seeds": seeds,
        "mean_difference": float(np.mean(diff)) if seeds else None,
        "p_value": p,
    }
