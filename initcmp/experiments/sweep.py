"""The sweep: every cell of `sweep.grid` (config/grid.py) for every seed in `compare.seeds`.

Stages, as in experiments/compare.py: `plan` makes the runs (each an ordinary run, in a folder named
from its values: Config.run_name), `run` trains what is missing through the engine
compare uses (experiments/launch.py: finished runs skipped, interrupted ones resumed, runs of one
shape fused), and `summarise` reads each run's record at its budget and describes each
cell: test and train-set accuracy over seeds (mean, std, 95 % interval) and the
mean-field theory's χ₁ and ξ_c for the cell's config. report/render_sweep.py renders it.

A sweep is a named experiment of its own: its spec (the whole resolved config: the base
settings, the grid, the seeds, the budget) and its table, files and figure live in
`<log-root>/<experiment>/sweeps/<sweep>/`, named by the user or, by default, from its
grid's keys and a digest of its spec, so no sweep's files are ever overwritten by
another's. Its runs are ordinary runs of the experiment, shared by every sweep and
comparison that plans them. `load` rebuilds a sweep from its saved spec, by name.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from initcmp.config import grid, resolve, run_names
from initcmp.config import schema as config_mod
from initcmp.config import yaml_files
from initcmp.analysis import predict
from initcmp.experiments import cost, results
from initcmp.experiments import launch
from initcmp.report import stats
from initcmp.analysis import theory
from initcmp.analysis import width_theory
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset
from initcmp.errors import ConfigError, NoResultsError, OutputError
from initcmp import text
from initcmp.engine.reporter import Reporter
from initcmp.store import records
from initcmp.store.records import RunPaths, write_atomic

SPEC = "spec.yaml"  # a sweep's resolved config, in its folder
# How a sweep is executed, not what it is: left out of its name's digest and its spec's
# comparison (the same runs trained locally or on Ray are the same sweep).
EXECUTION = ("compare.executor", "compare.fuse", "compare.workers", "ray.")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=,+-]*$")  # a folder name on any system


@dataclass(frozen=True)
class Cell:
    """One combination of the grid's values and its runs, one per seed."""

    values: dict[str, Any]
    runs: list[Config]


def plan(cfg: Config) -> list[Cell]:
    """The cells, the grid's first key slowest, each with its runs in seed order. Each
    cell's config is made once, by the rules of `--set` (resolve.with_values); its
    seeds then differ in `seed` alone."""
    require_grid(cfg)
    cells = []
    for values in grid.cells(cfg.sweep.grid):
        where = "sweep (" + ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"
        cells.append(Cell(values, resolve.each_seed(cfg, values, where)))
    return cells


def runs(cells: list[Cell]) -> list[Config]:
    return [run for cell in cells for run in cell.runs]


# A sweep of more runs than this is refused unless the caller confirms it (`--yes`):
# at a few seconds a run on a 2-core CPU, a thousand runs of the default MLP are hours.
LARGE = 1_000
# Nor is one whose training is estimated at more than a day (experiments/cost.py).
LONG = 86_400


def size(cfg: Config) -> tuple[int, int]:
    """(cells, runs) of `cfg`'s sweep, from the grid's lengths alone: instant for any
    grid, before a single cell is planned."""
    cells = math.prod(len(values) for values in cfg.sweep.grid.values())
    return cells, cells * len(cfg.compare.seeds)


def require_grid(cfg: Config) -> None:
    if not cfg.sweep.grid:
        raise ConfigError(
            "the sweep grid is empty: give --grid KEY=V1,V2,... (or START:STOP:STEP), "
            "or a `sweep: {grid: ...}` section in the config"
        )


def check_size(cfg: Config, confirmed: bool) -> cost.Cost:
    """The sweep's cost (`estimate`); a grid of more than LARGE runs or of more than
    LONG seconds' estimated training is an error unless `confirmed`: one line, at once,
    stating what it would train. An empty grid is an error too."""
    require_grid(cfg)
    cells, runs = size(cfg)
    need = estimate(cfg)
    if (runs > LARGE or need.seconds() > LONG) and not confirmed:
        limit = f"more than {LARGE:,} runs" if runs > LARGE else f"more than {text.duration(LONG)}"
        raise ConfigError(
            f"the sweep is {cells:,} cells x {text.plural(len(cfg.compare.seeds), 'seed')} = "
            f"{runs:,} runs of {cfg.train.budget} ({shape(cfg)}), {size_words(need)}; "
            f"{limit}: add --yes to train them, or make the grid smaller"
        )
    return need


def estimate(cfg: Config) -> cost.Cost:
    """The sweep's steps, arithmetic, time and memory, from its grid's cells (an even
    sample of a huge grid: cost.sample) before any is planned: a million cells in about
    a second."""
    cells, _ = size(cfg)
    configs = [resolve.with_values(cfg, values, "sweep") for values in cost.sample(cfg.sweep.grid)]
    return cost.of_sweep(configs, cells, len(cfg.compare.seeds))


def size_words(need: cost.Cost) -> str:
    """`39,000 steps, 2.0e+13 operations: about 3 min here (218 GFLOP/s matmuls), about
    0.4 GB at its peak`."""
    rate = cost.matmul_rate()
    return (
        f"{need.steps:,} steps, {need.flops:.1e} operations: about {text.duration(need.seconds())} "
        f"here ({rate / 1e9:.0f} GFLOP/s matmuls), about {need.peak_bytes / 1e9:.1f} GB at "
        "its peak"
    )


def shape(cfg: Config) -> str:
    """`10 model.depth x 13 init.scale x 1 seed`."""
    parts = [f"{len(v)} {k}" for k, v in cfg.sweep.grid.items()]
    seeds = len(cfg.compare.seeds)
    return " x ".join(parts + [f"{seeds} seed{'' if seeds == 1 else 's'}"])


def name(cfg: Config, given: str | None = None) -> str:
    """The sweep's name: `given`, or its grid's keys and a digest of its whole spec
    (`depth-scale-1f3a9c2e`), the same for the same command, another for any change."""
    if given is not None:
        if not _NAME.match(given):
            raise ConfigError(
                f"sweep name {given!r}: use letters, digits and . _ = , + - (a folder name)"
            )
        return given
    keys = run_names.short_names(list(cfg.sweep.grid))
    spec = json.dumps(_what(config_mod.to_dict(cfg)), sort_keys=True, default=str)
    return "-".join([*keys, hashlib.sha256(spec.encode()).hexdigest()[:8]])


# What no sweep's table reads: the coord-check's settings and the step-0 evaluation.
UNREAD = ("coord_check.", "eval.at_start")


def _what(raw: dict) -> dict:
    """A spec's dotted keys and values but how it is executed (EXECUTION) and what no
    sweep reads (UNREAD), and, for the standard parametrization, but the width keys
    (config_mod.WIDTH_KEYS): a sweep's name is what it was before any of these existed."""
    flat = config_mod.flatten(raw)
    if flat.get("model.parametrization", "standard") == "standard":
        flat = {k: v for k, v in flat.items() if k not in config_mod.WIDTH_KEYS}
    return {k: v for k, v in flat.items() if not k.startswith((*EXECUTION, *UNREAD))}


def folder(cfg: Config, log_root: str | Path, given: str | None = None) -> Path:
    """Where the sweep's spec, table, files and figure live."""
    return Path(log_root) / cfg.name / "sweeps" / name(cfg, given)


def save_spec(cfg: Config, log_root: str | Path, given: str | None = None) -> Path:
    """Write the sweep's spec in its folder; a sweep of that name with another spec is
    an error naming the keys that differ (one sweep never takes another's folder)."""
    where = folder(cfg, log_root, given)
    path, spec = where / SPEC, config_mod.dump_yaml(cfg)
    if path.exists():
        saved = _what(yaml_files.read_yaml(path))
        mine = _what(yaml_files.parse_value(spec))
        changed = sorted(k for k in saved.keys() | mine.keys() if saved.get(k) != mine.get(k))
        if changed:
            raise ConfigError(
                f"sweep {where.name!r} of {cfg.name!r} exists with another spec (it differs "
                f"in {', '.join(changed[:6])}); give this one another --name, or leave "
                "--name out for a name of its own"
            )
        return path
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {where}: {exc.strerror or exc}") from None
    write_atomic(path, spec)
    return path


def load(sweep: str, experiment: str, log_root: str | Path = "logs") -> Config:
    """A sweep's config from its saved spec, by its name, to report it again."""
    path = Path(log_root) / experiment / "sweeps" / sweep / SPEC
    if not path.exists():
        known = [s for s, _ in saved(experiment, log_root)]
        raise NoResultsError(
            f"no sweep {sweep!r} of experiment {experiment!r} in {Path(log_root)}"
            + (f"; its sweeps: {', '.join(known)}" if known else "; it has none")
        )
    return resolve.from_dict(yaml_files.read_yaml(path), str(path))


def saved(experiment: str, log_root: str | Path = "logs") -> list[tuple[str, Config]]:
    """The sweeps of an experiment, (name, config), by name."""
    root = Path(log_root) / experiment / "sweeps"
    found = sorted(p.parent for p in root.glob(f"*/{SPEC}")) if root.is_dir() else []
    return [(p.name, resolve.from_dict(yaml_files.read_yaml(p / SPEC), str(p))) for p in found]


def status(cfg: Config, checkpoint_root, log_root) -> dict:
    """How far a sweep is: its shape, its runs, and how many have finished (plain files
    only)."""
    planned = runs(plan(cfg))
    done = sum(
        records.finished(c, RunPaths.of(c, checkpoint_root, log_root)) is not None for c in planned
    )
    return {"shape": shape(cfg), "budget": cfg.train.budget, "runs": len(planned), "finished": done}


def run(
    cfg: Config,
    load_data: Callable[[], Dataset],
    *,
    checkpoint_root: str | Path = "checkpoints",
    log_root: str | Path = "logs",
    fresh: bool = False,
    reporter: Reporter | None = None,
    need: cost.Cost | None = None,
) -> list[Cell]:
    """Train every run of the plan that has not finished; return the plan. The reporter
    hears the sweep's estimated size first (`need`, as `check_size` returned it, or
    estimated here)."""
    reporter = reporter or Reporter()
    reporter.note(f"{cfg.name}: {size_words(need or estimate(cfg))}")
    cells = plan(cfg)
    launch.train_missing(
        cfg,
        runs(cells),
        load_data,
        shape=shape(cfg),
        checkpoint_root=checkpoint_root,
        log_root=log_root,
        fresh=fresh,
        reporter=reporter,
        sweep=True,
    )
    return cells


def summarise(
    cfg: Config, checkpoint_root: str | Path = "checkpoints", log_root: str | Path = "logs"
) -> dict:
    """`{"name", "axes": {key: [values]}, "seeds", "budget", "cells": [...], "missing_runs",
    "lr_transfer"}`,
    each cell read from its runs' records (plain files: no TensorFlow). No finished run
    at all is an error."""
    planned, cells, missing = plan(cfg), [], []
    theories: dict = {}
    for cell in planned:
        found = []
        for run_cfg in cell.runs:
            rec = results.record(run_cfg, RunPaths.of(run_cfg, checkpoint_root, log_root))
            if rec is None:
                missing.append(run_cfg.run_name)
            else:
                found.append(rec)
        cells.append({"values": cell.values, **describe(found), **_theory(cell.runs[0], theories)})
    if len(missing) == len(runs(planned)):
        raise NoResultsError(
            f"no finished runs of sweep {cfg.name!r} in {Path(log_root) / cfg.name}; "
            "run `initcmp sweep` with the same options first"
        )
    return {
        "name": cfg.name,
        "axes": {k: list(v) for k, v in cfg.sweep.grid.items()},
        "xi_c_curve": xi_c_curve(cfg, planned[0].runs[0], theories),
        "seeds": list(cfg.compare.seeds),
        "budget": cfg.train.budget,
        "cells": cells,
        "missing_runs": len(missing),
        "missing": missing,
        # a grid over model.width x train.learning_rate: the losses against the learning
        # rate per width, the best ones and their drift (analysis/width_theory.py)
        "lr_transfer": width_theory.lr_transfer(dict(cfg.sweep.grid), cells),
    }


def describe(records: list[dict]) -> dict:
    """A cell's statistics over its finished runs (diverged ones counted, not averaged)."""
    good = [r for r in records if not r.get("diverged")]

    def column(key: str) -> np.ndarray:
        return np.array([r.get(key) for r in good if r.get(key) is not None], dtype=float)

    out: dict[str, Any] = {"runs": len(records), "diverged": len(records) - len(good)}
    for key, name in (("test_accuracy", "accuracy"), ("train_set_accuracy", "train_accuracy")):
        spread = stats.spread(column(key), stats.ACCURACY)
        out.update(zip((f"mean_{name}", f"std_{name}", f"ci95_{name}"), spread))
    out["mean_loss"] = stats.spread(column("test_loss"))[0]
    out["mean_train_loss"] = stats.spread(column("train_set_loss"))[0]
    out["seconds"] = stats.seconds_per_run(records) if records else None
    return out


def xi_c_curve(cfg: Config, base: Config, cache: dict, points: int = 61) -> dict | None:
    """Where the grid's axes are `model.depth` and a numeric `init.` key: ξ_c at `points`
    values of that key across its range (in the config of the first cell, `base`), for the
    heatmap's curves depth = k·ξ_c (report/sweep_plots.py); else None."""
    grid_ = cfg.sweep.grid
    keys = [k for k in grid_ if k.startswith("init.") and k != "init.name"]
    if "model.depth" not in grid_ or len(keys) != 1 or len(grid_) != 2:
        return None
    key, values = keys[0], grid_[keys[0]]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    xs = np.linspace(min(values), max(values), points)
    xi = [_theory(resolve.with_values(base, {key: float(x)}, "curve"), cache)["xi_c"] for x in xs]
    return {"key": key, "values": [float(x) for x in xs], "xi_c": xi}


def _theory(cfg: Config, cache: dict) -> dict:
    """χ₁ and ξ_c of the cell's hidden-to-hidden layers (the first layer's when it has
    one hidden layer), and its depth in units of ξ_c; None where the theory has nothing
    to say (a data-dependent or zero initializer)."""
    sizes = cfg.model.widths()
    fan_in, fan_out = (sizes[1], sizes[2]) if len(sizes) > 3 else (sizes[0], sizes[1])
    sw = predict.weight_variance(cfg, fan_in, fan_out)
    key = (cfg.model.activation, sw, cfg.init.bias_variance)
    if key not in cache:
        try:
            found = theory.summary(*key, depth=1) if sw and math.isfinite(sw) else None
        except ConfigError:
            found = None
        cache[key] = found and {k: found[k] for k in ("chi_1", "xi_c", "phase")}
    found = cache[key] or {"chi_1": None, "xi_c": None, "phase": None}
    xi, depth = found["xi_c"], len(cfg.model.hidden)
    ratio = depth / xi if xi and math.isfinite(xi) else (0.0 if xi == math.inf else None)
    return {"weight_variance": sw, **found, "depth": depth, "depth_over_xi_c": ratio}
