"""The runs of an experiment on disk, from their plain files only (no TensorFlow): what
`initcmp runs` lists and `initcmp rm` deletes.

A run is a folder `<init>-s<seed>` under `<checkpoint-root>/<name>/`, `<log-root>/<name>/`
or both. Its status, from its own records (store/records.py):
  finished  its result.json is as new as its newest checkpoint: accuracy and loss
  diverged  its result.json says so, and at which step
  partial   a checkpoint at step N (of M, its config's epochs) and no newer result
  empty     folders but no checkpoint yet (stopped before its first)
and, separately, the process that holds it now (its lock, tested without waiting).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from initcmp.inits import registry
from initcmp.store import records
from initcmp.config.schema import Config
from initcmp.errors import CheckpointError, InitcmpError, OutputError, RunInUseError
from initcmp.store.records import RunPaths
from initcmp import text

RUN_FOLDER = re.compile(r"^(?P<init>.+)-s(?P<seed>[0-9]+)(?:@[0-9a-f]{8})?$")  # run_name


def runs(name: str, checkpoint_root: str | Path, log_root: str | Path) -> list[dict]:
    """Every run of experiment `name` on disk, by initializer (registry order) and seed."""
    folders = set()
    for root in (checkpoint_root, log_root):
        experiment = Path(root) / name
        if experiment.is_dir():
            folders |= {p.name for p in experiment.iterdir() if p.is_dir()}
    found = [m for m in map(RUN_FOLDER.match, folders) if m]
    order = list(registry.REGISTRY)
    found.sort(key=lambda m: (_rank(m["init"], order), m["init"], int(m["seed"])))
    return [describe(_paths(name, m.string, checkpoint_root, log_root)) for m in found]


def _rank(init: str, order: list[str]) -> int:
    return order.index(init) if init in order else len(order)


def _paths(name: str, run: str, checkpoint_root, log_root) -> RunPaths:
    return RunPaths(Path(checkpoint_root) / name / run, Path(log_root) / name / run)


def describe(paths: RunPaths) -> dict:
    """One run's status (module docstring), step and numbers, from its files."""
    match = RUN_FOLDER.match(paths.checkpoints.name)
    saved = records.checkpoint_steps(paths.checkpoints)
    step = saved[-1] if saved else 0
    result = records.read_result(paths)
    run = {
        "run": paths.checkpoints.name,
        "init": match["init"] if match else None,
        "seed": int(match["seed"]) if match else None,
        "status": "partial" if saved else "empty",
        "step": step,
        "total_steps": _total_steps(paths),
        "test_accuracy": None,
        "test_loss": None,
        "locked_by": records.RunLock(paths).holder(),
        "checkpoint_dir": str(paths.checkpoints),
        "log_dir": str(paths.logs),
    }
    if result and result.get("diverged"):
        run.update(status="diverged", step=result.get("diverged_step"))
    elif result and result.get("step", -1) >= step:  # no checkpoint newer than the result
        run.update(status="finished", step=result["step"])
        run.update(test_accuracy=result.get("test_accuracy"), test_loss=result.get("test_loss"))
    return run


def _total_steps(paths: RunPaths) -> int | None:
    """The steps its config asks for: train.steps, or epochs x steps per epoch, the
    latter read off its own metrics (each row has its step and epoch); None before its
    first evaluation."""
    cfg = _config(paths)
    if cfg is not None and cfg.train.steps:
        return cfg.train.steps
    rows = [r for r in records.read_metrics(paths) if r.get("epoch") and r.get("step")]
    if cfg is None or not rows:
        return None
    last = max(rows, key=lambda r: r["epoch"])
    return round(last["step"] / last["epoch"]) * cfg.train.epochs


def _config(paths: RunPaths) -> Config | None:
    """The run's own config (beside its checkpoints, else its logs); None if unreadable:
    a listing still shows what the other files say."""
    for folder in (paths.checkpoints, paths.logs):
        try:
            cfg = records.read_config(folder)
        except InitcmpError:
            continue
        if cfg is not None:
            return cfg
    return None


def experiments(checkpoint_root: str | Path, log_root: str | Path) -> list[str]:
    """The experiments with a folder under either root, for a listing that found none."""
    roots = [Path(root) for root in (checkpoint_root, log_root) if Path(root).is_dir()]
    return sorted(
        {p.name for root in roots for p in root.iterdir() if p.is_dir() and p.name[0] != "."}
    )


def status_lines(found: list[dict]) -> list[str]:
    """Each run in words, aligned: `he-s0  finished  step 469, test accuracy 96.13%, ...`."""
    width = max(len(run["run"]) for run in found)
    return [f"{run['run']:<{width}}  {run['status']:<8}  {_detail(run)}" for run in found]


def _detail(run: dict) -> str:
    of = f" of {run['total_steps']}" if run["total_steps"] else ""
    accuracy = "n/a" if run["test_accuracy"] is None else f"{text.percent(run['test_accuracy'])}%"
    detail = {
        "finished": f"step {run['step']}, test accuracy {accuracy}, "
        f"loss {_number(run['test_loss'])}",
        "diverged": f"loss became NaN or inf at step {run['step']}",
        "partial": f"step {run['step']}{of}; training it again resumes it",
        "empty": "no checkpoint yet",
    }[run["status"]]
    return detail + (f"; in use by process {run['locked_by']}" if run["locked_by"] else "")


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def by_folder(experiment: str, run: str, checkpoint_root, log_root) -> Config:
    """The config of the run in folder `run` of `experiment` (`depth=2,he-s0@3f9a1c2e`,
    as `initcmp runs` lists it), from the config.yaml it was trained with."""
    for root in (checkpoint_root, log_root):
        cfg = records.read_config(Path(root) / experiment / run)
        if cfg is not None:
            return cfg
    known = [r["run"] for r in runs(experiment, checkpoint_root, log_root)]
    raise CheckpointError(
        f"no run {run!r} of experiment {experiment!r} in {checkpoint_root} or {log_root}"
        + (f"; its runs: {', '.join(known[:6])}{' ...' if len(known) > 6 else ''}" if known else "")
        + " (`initcmp runs` lists them)"
    )


def find(cfg: Config, checkpoint_root: str | Path, log_root: str | Path) -> dict:
    """`cfg`'s run as `describe` sees it. None of its folders on disk, or a process
    holding it, is an error: what `rm` checks before it asks."""
    paths = RunPaths.of(cfg, checkpoint_root, log_root)
    if not (paths.checkpoints.is_dir() or paths.logs.is_dir()):
        raise CheckpointError(
            f"no run {cfg.run_name} of experiment {cfg.name!r} in {paths.checkpoints.parent} "
            f"or {paths.logs.parent} (`initcmp runs` lists them)"
        )
    run = describe(paths)
    if run["locked_by"]:
        raise _in_use(paths, run["locked_by"])
    return run


def _in_use(paths: RunPaths, pid: str | None) -> RunInUseError:
    return RunInUseError(
        f"{paths.checkpoints} is in use by process {pid or 'unknown'}; nothing deleted: "
        "stop it (Ctrl-C saves a checkpoint) or let it finish, then delete it"
    )


def remove(cfg: Config, checkpoint_root: str | Path, log_root: str | Path) -> list[Path]:
    """Delete `cfg`'s run, its checkpoint and log folders, holding its lock meanwhile: a
    run a process holds is refused, and none can start on it while it goes. The lock
    file stays (records.RunLock says why). Returns the folders deleted."""
    paths = RunPaths.of(cfg, checkpoint_root, log_root)
    lock = records.RunLock(paths)
    try:
        lock.acquire()
    except RunInUseError:
        raise _in_use(paths, lock.holder()) from None
    deleted = []
    try:
        for folder in (paths.checkpoints, paths.logs):
            if folder.exists():
                try:
                    shutil.rmtree(folder)
                except OSError as exc:
                    raise OutputError(f"cannot delete {folder}: {exc.strerror or exc}") from None
                deleted.append(folder)
    finally:
        lock.release()
    return deleted
