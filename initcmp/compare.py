"""The comparison: every initializer in `compare.inits` for every seed in `compare.seeds`.

Stages, each its own function: `run` trains what is missing (each run exactly as
`initcmp train` would, in the same folders), `collect` reads the runs' plain-file
records, `summarise` applies `stats` to them, and `report` renders a table, files and a
plot. `initcmp report` is `summarise` and what follows, without `run`.

Paired design: runs with the same seed see the same data order (it is a function of
seed and epoch only), so the initializer is the only difference within a seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from initcmp import checkpoints, records, stats, train
from initcmp.progress import Reporter
from initcmp.config import Config, ModelConfig, TrainConfig
from initcmp.config_load import for_run
from initcmp.data import Dataset
from initcmp.errors import NoResultsError
from initcmp.records import RunPaths


def plan(cfg: Config) -> list[Config]:
    """The runs of a comparison, initializer-major: random-s0, random-s1, ..., he-s2."""
    return [for_run(cfg, init, seed) for init in cfg.compare.inits for seed in cfg.compare.seeds]


def run(
    cfg: Config,
    load_data: Callable[[], Dataset],
    *,
    checkpoint_root: str | Path = "checkpoints",
    log_root: str | Path = "logs",
    fresh: bool = False,
    reporter: Reporter | None = None,
) -> list[dict]:
    """Train every run of the plan that has not finished; return `collect`'s records.

    Finished runs are read from their records (no TensorFlow, no data), interrupted ones
    resume from their checkpoint, and a diverged run is recorded and passed over. Data
    is loaded once, and only if something needs training. With `compare.fuse` the runs
    train together in stacks (fused.py), each to the same bits as alone.
    """
    reporter = reporter or Reporter()
    runs = plan(cfg)
    reporter.compare_start(len(runs))
    todo = []
    for run_cfg in runs:
        paths = RunPaths.of(run_cfg, checkpoint_root, log_root)
        with records.RunLock(paths):  # --fresh never deletes a run another process holds
            checkpoints.resume_rules(run_cfg, paths, fresh)
        done = records.finished(run_cfg, paths)
        if done:
            reporter.skipped(run_cfg, done)
        else:
            todo.append(run_cfg)
    if todo and cfg.compare.executor == "ray":
        from initcmp import distributed

        distributed.run(
            cfg, todo, checkpoint_root=checkpoint_root, log_root=log_root, reporter=reporter
        )
    elif todo:
        train.run_many(
            todo,
            load_data(),
            checkpoint_root=checkpoint_root,
            log_root=log_root,
            fuse=cfg.compare.fuse,
            reporter=reporter,
        )
    return collect(cfg, checkpoint_root, log_root)


def collect(
    cfg: Config, checkpoint_root: str | Path = "checkpoints", log_root: str | Path = "logs"
) -> list[dict]:
    """One record per finished run of the plan: its result plus its test-accuracy curve.
    Runs that have not finished are left out (the report says how many are missing)."""
    out = []
    for run_cfg in plan(cfg):
        paths = RunPaths.of(run_cfg, checkpoint_root, log_root)
        result = records.finished(run_cfg, paths)
        if result is None:
            continue
        curve = [(row["step"], row["test_accuracy"]) for row in records.read_metrics(paths)]
        out.append({**result, "curve": curve})
    return out


def summarise(
    cfg: Config, checkpoint_root: str | Path = "checkpoints", log_root: str | Path = "logs"
) -> tuple[dict, list[dict]]:
    """`stats.summarise` over the finished runs of the plan, with `missing_runs`; the
    records are returned too, for the plot. No finished run at all is an error."""
    found = collect(cfg, checkpoint_root, log_root)
    if not found:
        raise NoResultsError(
            f"no finished runs of experiment {cfg.name!r} in "
            f"{experiment_folder(cfg, log_root)}; run `initcmp compare` first"
        )
    notebook = stats.NOTEBOOK if is_notebook(cfg) else {}
    summary = stats.summarise(found, order=list(cfg.compare.inits), notebook=notebook)
    summary["missing_runs"] = len(cfg.compare.inits) * len(cfg.compare.seeds) - len(found)
    return summary, found


def is_notebook(cfg: Config) -> bool:
    """Whether the experiment is the notebook's (full MNIST, its model and training), so
    that its published numbers may stand beside ours."""
    return (
        cfg.data.name == "mnist"
        and cfg.data.train_limit is None
        and cfg.model == ModelConfig()
        and cfg.train == TrainConfig()
    )


def experiment_folder(cfg: Config, log_root: str | Path = "logs") -> Path:
    """Where the comparison's table, files and plot go: beside its runs' logs."""
    return Path(log_root) / cfg.name
