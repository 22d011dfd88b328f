"""A run's plain-file records, so later tools never parse TensorBoard event files.

A run is `<checkpoint-root>/<name>/<init>-s<seed>/` (weights, optimizer, step) and
`<log-root>/<name>/<init>-s<seed>/`, which holds, beside the TensorBoard event files:
  config.yaml    the resolved config (also kept beside the checkpoints)
  metrics.jsonl  one JSON object per evaluation
  result.json    the final numbers, written when the run finishes or diverges
Every file is replaced atomically (temporary name, fsync, rename): a reader never sees
half a file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Mapping

from initcmp.config import schema as config_mod
from initcmp.config import resolve
from initcmp.config import yaml_files
from initcmp.store import atomic
from initcmp.config.schema import Config
from initcmp.errors import OutputError, RunInUseError


@dataclass(frozen=True)
class RunPaths:
    checkpoints: Path
    logs: Path

    @classmethod
    def of(cls, cfg: Config, checkpoint_root: str | Path, log_root: str | Path) -> "RunPaths":
        return cls(
            Path(checkpoint_root) / cfg.name / cfg.run_name,
            Path(log_root) / cfg.name / cfg.run_name,
        )

    @property
    def metrics(self) -> Path:
        return self.logs / "metrics.jsonl"

    @property
    def result(self) -> Path:
        return self.logs / "result.json"

    def create(self) -> None:
        """Both folders, or neither: one that cannot be made (a read-only --log-dir)
        leaves no empty folder of the other behind."""
        made = []
        for folder in (self.checkpoints, self.logs):
            try:
                if not folder.is_dir():
                    folder.mkdir(parents=True)
                    made.append(folder)
            except OSError as exc:
                for empty in made:
                    shutil.rmtree(empty, ignore_errors=True)
                raise OutputError(f"cannot create {folder}: {exc.strerror}") from None

    def remove(self) -> None:
        for folder in (self.checkpoints, self.logs):
            shutil.rmtree(folder, ignore_errors=True)


class RunLock:
    """One process at a time on a run: an exclusive `flock` on `<checkpoints>/<name>/
    .<run>.lock`, beside the run's folder (so `--fresh` cannot delete it). The operating
    system drops it when its holder exits, however it exits (kill -9 included), so it
    never stays stuck; the file keeps the holder's PID for the message."""

    def __init__(self, paths: RunPaths):
        self.path = paths.checkpoints.parent / f".{paths.checkpoints.name}.lock"
        self.run = paths.checkpoints
        self._fd: int | None = None

    def acquire(self, wait: bool = False) -> "RunLock":
        """Take the lock; held by another process, an error naming it, or with `wait`,
        block until that process lets go (it finished, or died)."""
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot create {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunInUseError(
                f"{self.run} is in use by process {holder} (another "
                "initcmp training this run); wait for it to finish, "
                "or stop it and rerun to resume",
                holder,
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def holder(self) -> str | None:
        """The PID of the process holding the run now, or None; never waits and never
        creates the file. (It takes a shared lock for an instant: a process acquiring
        the run in that same instant would be told it is in use.)"""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None  # no lock file: no process has held this run here
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)  # closing drops the shared lock, if it was taken
        return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (store/atomic.py); a failure is one line."""
    try:
        atomic.write_text(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_config(paths: RunPaths, cfg: Config) -> None:
    text = config_mod.dump_yaml(cfg)
    for folder in (paths.checkpoints, paths.logs):
        write_atomic(folder / "config.yaml", text)


def read_config(folder: Path) -> Config | None:
    """The config a run was made with, or None if the folder has none."""
    path = folder / "config.yaml"
    if not path.is_file():
        return None
    return resolve.from_dict(yaml_files.read_yaml(path), source=str(path))


def read_metrics(paths: RunPaths) -> list[dict]:
    if not paths.metrics.is_file():
        return []
    rows = []
    for line in paths.metrics.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a torn last line from a killed writer; everything before it is good
    return rows


def append_metrics(paths: RunPaths, row: dict) -> None:
    """Append one row and fsync; a line torn by a kill is dropped on the next read."""
    try:
        with open(paths.metrics, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise OutputError(f"cannot write {paths.metrics}: {exc.strerror or exc}") from None


def truncate_metrics(paths: RunPaths, step: int) -> None:
    """Keep rows up to `step` (and no torn line): a resumed run recomputes the rest."""
    kept = [r for r in read_metrics(paths) if r["step"] <= step]
    write_atomic(paths.metrics, "".join(json.dumps(r) + "\n" for r in kept))


def write_result(paths: RunPaths, result: dict) -> None:
    write_atomic(paths.result, json.dumps(result, indent=2) + "\n")


# The evaluation on the first `eval.train_images` training images (fused.evaluate).
TRAIN_SET = ("train_set_loss", "train_set_accuracy")
# The numbers of an evaluation and of the last log point, as metrics rows hold them.
METRICS = ("test_accuracy", "test_loss", "train_loss", "train_accuracy", *TRAIN_SET)


def identity(cfg: Config) -> dict:
    """Which run a record is of: the keys every record of a run starts with."""
    return {"name": cfg.name, "init": cfg.init.name, "seed": cfg.seed}


@dataclass(frozen=True)
class RunResult:
    """A run's result: what result.json holds, one field per key in the file's order.
    `as_dict` is the record every reader gets (`compare`, `report`, `runs`, `--json`);
    `trained_further` is written only for a run read at an earlier budget's end."""

    name: str
    init: str
    seed: int
    step: int
    epoch: float
    epochs: int
    steps: int | None
    test_accuracy: float | None
    test_loss: float | None
    train_loss: float | None
    train_accuracy: float | None
    train_set_loss: float | None
    train_set_accuracy: float | None
    seconds: float | None
    diverged: bool
    diverged_step: int | None
    trained_with: int
    weights_sha256: str | None  # None: the weights at this step are not kept
    data: str | None
    checkpoint_dir: str
    log_dir: str
    trained_further: bool = False

    @classmethod
    def of(
        cls, cfg: Config, paths: RunPaths, step: int, epoch: float, metrics: Mapping, **rest
    ) -> RunResult:
        """`cfg`'s run at `step`, its numbers from `metrics` (absent ones None)."""
        return cls(
            **identity(cfg),
            step=step,
            epoch=epoch,
            epochs=cfg.train.epochs,
            steps=cfg.train.steps,
            **{key: metrics.get(key) for key in METRICS},
            checkpoint_dir=str(paths.checkpoints),
            log_dir=str(paths.logs),
            **rest,
        )

    def as_dict(self) -> dict:
        """The record, rounded as plain files hold it (`rounded`)."""
        record = asdict(self)
        if not self.trained_further:
            del record["trained_further"]
        return rounded(record)

    def write(self, paths: RunPaths) -> dict:
        """Write result.json; return the record written."""
        record = self.as_dict()
        write_result(paths, record)
        return record


RESULT_KEYS = tuple(f.name for f in fields(RunResult))


def finished(cfg: Config, paths: RunPaths) -> dict | None:
    """The run's record at its budget (`train.epochs`, or `train.steps`), or None if it
    has not got there.

    Its result if it finished there, or diverged before; a run that has trained further
    is read at that budget's end from metrics.jsonl (every epoch end, and the end of a
    step budget, is evaluated), so a comparison never retrains, or deletes, a run that was
    extended (`at_epoch_end`). Reads plain files only, so a finished comparison is
    reported without TensorFlow. The caller has already applied the resume rules (same
    config on RUN_KEYS).
    """
    result = read_result(paths)
    if result and same_budget(result, cfg):
        return result
    row = budget_end_row(paths, cfg, trained_steps(paths, result))
    if row is not None:
        return at_epoch_end(cfg, paths, row, result)
    if result and result.get("diverged"):  # it diverged before that budget's end
        return result
    return None


def same_budget(result: dict, cfg: Config) -> bool:
    """Whether a result was trained to `cfg`'s budget: the same steps, or, without a step
    budget on either side, the same epochs."""
    steps = cfg.train.steps
    return result.get("steps") == steps and (
        steps is not None or result.get("epochs") == cfg.train.epochs
    )


def trained_steps(paths: RunPaths, result: dict | None) -> int:
    """How far the run has trained for sure: its newest checkpoint (`ckpt-<step>.index`,
    see engine/checkpoints.py) or its result, whichever is further."""
    return max(checkpoint_steps(paths.checkpoints) + [result["step"] if result else 0])


def checkpoint_steps(folder: Path) -> list[int]:
    """The steps of the checkpoints in a run folder, oldest first, found by their files
    (`ckpt-<step>.index`), so that a lost or damaged `checkpoint` state file loses
    nothing. engine/checkpoints.py restores them; this reads their names only."""
    return sorted(int(p.name[len("ckpt-") : -len(".index")]) for p in folder.glob("ckpt-*.index"))


def budget_end_row(paths: RunPaths, cfg: Config, trained: int) -> dict | None:
    """The evaluation at the end of `cfg`'s budget (epoch `train.epochs`'s end, or step
    `train.steps`), if the run has trained past it. A row beyond the newest checkpoint is
    not trusted: a resume rewrites it; and a run that stopped right there has its result
    still to write (it resumes to write it)."""
    steps, epochs = cfg.train.steps, cfg.train.epochs
    rows = [
        r
        for r in read_metrics(paths)
        if (r["step"] == steps if steps else r.get("epoch") == epochs) and r["step"] < trained
    ]
    return rows[-1] if rows else None


def at_epoch_end(cfg: Config, paths: RunPaths, row: dict, result: dict | None) -> dict:
    """A run that trained further, as a result at `row`'s epoch end: the same keys,
    with `trained_further`; its weights at that step are not kept, so no fingerprint."""
    result = result or {}
    return RunResult.of(
        cfg,
        paths,
        step=row["step"],
        epoch=row["epoch"],
        metrics=row,
        seconds=row.get("seconds"),
        diverged=False,
        diverged_step=None,
        trained_with=result.get("trained_with", 1),
        weights_sha256=None,
        data=result.get("data"),
        trained_further=True,
    ).as_dict()


def read_result(paths: RunPaths) -> dict | None:
    try:
        return json.loads(paths.result.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def json_safe(value, nonfinite=None, digits: int | None = None):
    """`value` made fit for JSON, recursively: NaN and inf (which JSON lacks) become
    `nonfinite(value)` if it is callable, else `nonfinite`; floats rounded to `digits`.
    Records use null and 6 digits; `inspect --json` writes "inf" and "nan"."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return nonfinite(value) if callable(nonfinite) else nonfinite
        return round(value, digits) if digits is not None else value
    if isinstance(value, dict):
        return {k: json_safe(v, nonfinite, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v, nonfinite, digits) for v in value]
    return value


def rounded(values: dict) -> dict:
    """A record's row: floats rounded for plain files, NaN and inf as null."""
    return json_safe(values, None, 6)
