"""An experiment's runs as their own records describe them: what a report covers, each
run read at the same number of epochs, and how the table is labelled.

`compare` reads its own plan this way; `initcmp report` reads the runs that the
experiment's log folder holds (or those `--inits`/`--seeds` pick), each with the config
it recorded, so a report never labels runs with the current command's config. Plain
files only: no TensorFlow.
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from initcmp.store import records
from initcmp.config import run_names
from initcmp.report import stats
from initcmp.config.schema import Config, ModelConfig, TrainConfig
from initcmp.errors import NoResultsError
from initcmp.store.records import RunPaths
from initcmp import text


@dataclass(frozen=True)
class Selection:
    """What a report covers. None: every initializer, or seed, found; `epochs` None: the
    epochs every run found has finished (so a run trained further does not hide them)."""

    inits: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None
    epochs: int | None = None

    @classmethod
    def asked(cls, cfg: Config, given: set[str]) -> "Selection":
        """The selection a command line asks: `cfg`'s values of `compare.inits`,
        `compare.seeds` and `train.epochs` where `given` (the dotted keys its flags and
        `--set`s name) holds them or their section; None where it does not."""

        def value(key: str, got):
            return got if any(key == k or key.startswith(f"{k}.") for k in given) else None

        return cls(
            value("compare.inits", cfg.compare.inits),
            value("compare.seeds", cfg.compare.seeds),
            value("train.epochs", cfg.train.epochs),
        )


@dataclass
class Outcome:
    """A comparison's summary (stats.summarise's, with `missing_runs`), its records (for
    the plot), the runs it planned that have no record at `epochs`, by name, and the
    config and folders of each record's run."""

    summary: dict
    records: list[dict]
    missing: list[str]
    epochs: int
    runs: list[tuple[Config, RunPaths]] = dataclasses.field(default_factory=list)  # of records

    @property
    def read_earlier(self) -> list[str]:
        """The runs that trained further, read at `epochs` from their metrics."""
        return [Path(r["log_dir"]).name for r in self.records if r.get("trained_further")]

    def notes(self) -> list[str]:
        """What the table does not say: runs read at an earlier epoch, runs missing."""
        epochs = f"{self.epochs} epoch{'' if self.epochs == 1 else 's'}"
        lines = []
        if self.read_earlier:
            lines.append(
                f"read at the end of {epochs}, from their metrics.jsonl, having trained "
                f"further: {text.listing(self.read_earlier)}"
            )
        if self.missing:
            lines.append(
                f"{len(self.missing)} planned runs have not finished {epochs} "
                f"({text.listing(self.missing)}): `initcmp compare` with the same options "
                "trains them"
            )
        return lines


def record(cfg: Config, paths: RunPaths) -> dict | None:
    """A run's record at `cfg.train.epochs` (records.finished), with its test-accuracy
    curve up to there; None if it has not got there."""
    result = records.finished(cfg, paths)
    if result is None:
        return None
    rows = records.read_metrics(paths)
    curve = [(r["step"], r["test_accuracy"]) for r in rows if r["step"] <= result["step"]]
    return {**result, "curve": curve}


def outcome(
    name: str, planned: list[tuple[Config, RunPaths]], order: list[str], epochs: int
) -> Outcome:
    """The planned runs (each with its own config) read at `epochs`; rows in `order`.
    No finished run at all is an error."""
    found, where = [], []
    for cfg, paths in planned:
        cfg = at_epochs(cfg, epochs)
        rec = record(cfg, paths)
        if rec is not None:
            found.append((cfg, rec))
            where.append((cfg, paths))
    if not found:
        raise _no_runs(name, planned[0][1].logs.parent if planned else name)
    # The notebook's published numbers only beside runs that are its experiment.
    notebook = stats.NOTEBOOK if all(is_notebook(cfg) for cfg, _ in found) else {}
    summary = stats.summarise([rec for _, rec in found], order=order, notebook=notebook)
    have = {cfg.run_name for cfg, _ in found}
    missing = [cfg.run_name for cfg, _ in planned if cfg.run_name not in have]
    summary["missing_runs"] = len(missing)
    return Outcome(summary, [rec for _, rec in found], missing, epochs, where)


def report(
    name: str, selection: Selection, checkpoint_root: str | Path, log_root: str | Path
) -> Outcome:
    """What `initcmp report` shows: the experiment's runs that `selection` picks, each
    from its own recorded config, read at the selection's epochs (or the common ones)."""
    runs = [
        (cfg, paths)
        for cfg, paths in found_runs(name, checkpoint_root, log_root)
        if (selection.inits is None or cfg.init.name in selection.inits)
        and (selection.seeds is None or cfg.seed in selection.seeds)
    ]
    if not runs:
        asked = "" if selection == Selection() else " among those asked for"
        raise _no_runs(name, Path(log_root) / name, asked)
    order = list(selection.inits or row_order([cfg for cfg, _ in runs]))
    seeds = selection.seeds or sorted({cfg.seed for cfg, _ in runs})
    by_name = {cfg.run_name: (cfg, paths) for cfg, paths in runs}
    if selection.inits or selection.seeds:  # the asked grid; a hole in it is missing
        folder = (Path(checkpoint_root) / name, Path(log_root) / name)
        asked_runs = [_unstarted(runs[0][0], i, s, folder) for i in order for s in seeds]
        planned = [by_name.get(cfg.run_name, (cfg, paths)) for cfg, paths in asked_runs]
    else:  # every run there is, initializer-major as a comparison plans them
        planned = sorted(runs, key=lambda run: (order.index(run[0].init.name), run[0].seed))
    epochs = selection.epochs or common_epochs([paths for _, paths in runs])
    return outcome(name, planned, order, epochs)


def _no_runs(name: str, folder, asked: str = "") -> NoResultsError:
    return NoResultsError(
        f"no finished runs of experiment {name!r} in {folder}{asked}; run `initcmp compare` first"
    )


def found_runs(
    name: str, checkpoint_root: str | Path, log_root: str | Path
) -> list[tuple[Config, RunPaths]]:
    """Every run of experiment `name` that has a log folder with its config.yaml, but a
    sweep's cells (`depth=20,he-s0`: their names carry grid values), which a sweep's
    own report reads."""
    folder = Path(log_root) / name
    out = []
    for logs in sorted(folder.iterdir()) if folder.is_dir() else []:
        cfg = records.read_config(logs) if logs.is_dir() else None
        if cfg is not None and cfg.run_name == logs.name and not run_names.label(cfg):
            out.append((cfg, RunPaths(Path(checkpoint_root) / name / logs.name, logs)))
    return out


def _unstarted(like: Config, init: str, seed: int, folders) -> tuple[Config, RunPaths]:
    """A run asked for, as it would be if it had no folder of its own."""
    cfg = dataclasses.replace(like, init=dataclasses.replace(like.init, name=init), seed=seed)
    return cfg, RunPaths(folders[0] / cfg.run_name, folders[1] / cfg.run_name)


def common_epochs(runs: list[RunPaths]) -> int:
    """The epochs every finished run has reached: the fewest its results ask (runs that
    diverged count only when every run did). A run that trained further is read there."""
    results = [r for r in (records.read_result(p) for p in runs) if r and "epochs" in r]
    kept = [r["epochs"] for r in results if not r.get("diverged")]
    epochs = kept or [r["epochs"] for r in results]
    return min(epochs) if epochs else TrainConfig().epochs


def row_order(cfgs: list[Config]) -> list[str]:
    """The table's rows in the order of the runs' own `compare.inits`: the comparison
    that covers most of their initializers first; initializers none lists, by name."""
    present = {cfg.init.name for cfg in cfgs}
    lists = collections.Counter(cfg.compare.inits for cfg in cfgs)
    ranked = sorted(lists, key=lambda inits: (-len(present & set(inits)), -lists[inits]))
    order = [init for inits in ranked for init in inits if init in present]
    return list(dict.fromkeys(order + sorted(present)))


def at_epochs(cfg: Config, epochs: int) -> Config:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))


def is_notebook(cfg: Config) -> bool:
    """Whether a run is the notebook's experiment (full MNIST, its model and training,
    one epoch), so that its published numbers may stand beside ours."""
    return (
        cfg.data.name == "mnist"
        and cfg.data.train_limit is None
        and cfg.model == ModelConfig()
        and cfg.train == TrainConfig()
        and cfg.init.bias_variance == 0  # the notebook's biases start at zero
    )
