"""Training and evaluation. `run(cfg, data, ...)` is the one function the CLI, `compare`
and the tests all call; it takes its data as an argument, so tests never download.

Determinism: op determinism is on, every kernel has its own seed, the epoch order is a
function of (seed, epoch), and the running train-loss sums live in the checkpoint, so a
rerun after any interruption ends with the same weights and the same metrics.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from initcmp import checkpoints, data as data_mod, diagnose, faults, fused, lsuv, models, records
from initcmp.config import Config, flatten, to_dict
from initcmp.data import Dataset
from initcmp.errors import CheckpointError, Interrupted
from initcmp.records import RunPaths


class Reporter:
    """What a caller sees of runs while they train. The CLI draws with it; these no-ops
    are the library's default, which prints nothing. `compare_start` and `skipped`
    come from a comparison; `start` and `progress` from each group of runs trained
    together (a run alone is a group of one); `note`, `epoch_end` and `finish` from each run."""

    def compare_start(self, runs: int): ...
    def skipped(self, cfg: Config, result: dict): ...
    def start(self, cfgs: list[Config], total_steps: int, resumed_from_step: int, source: str): ...
    def progress(self, step: int, metrics: list[dict]): ...
    def note(self, line: str): ...
    def epoch_end(self, line: str): ...
    def finish(self, result: dict): ...


def tensorflow():
    """Import TensorFlow quietly, with deterministic ops (idempotent).

    TF 2.21 writes start-up lines (oneDNN, CUDA probing) from C++ before its log level
    applies, so stderr is closed at the descriptor level while it loads and looks for
    devices. Set INITCMP_TF_LOGS=1 to see them. Its C++ log lines are off too (level 3):
    loading a step from the XLA cache logs alarming but harmless "E0000 ... Error parsing
    text-format" and "Target machine feature +prefer-no-scatter" lines; TensorFlow's real
    errors reach initcmp as Python exceptions and are reported as such.
    """
    if not os.environ.get("INITCMP_TF_LOGS"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _xla_cache()
    if "tensorflow" in sys.modules or os.environ.get("INITCMP_TF_LOGS"):
        import tensorflow as tf
    else:
        with _stderr_silenced():
            import tensorflow as tf

            tf.config.list_physical_devices()
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")  # each run traces its own steps: retracing is expected
    return tf


def _xla_cache() -> None:
    """XLA's persistent compilation cache (TF's --tf_xla_persistent_cache_directory), in
    `<initcmp cache>/xla/` (about 0.4 MB per model shape): a step compiled once is loaded
    from disk by later processes instead of compiled again, about 2.5 s of every start.
    Its key is the compiled program, so a hit is the same executable: the same bits.
    INITCMP_XLA_CACHE=off turns it off; INITCMP_XLA_CACHE=<folder> moves it."""
    setting = os.environ.get("INITCMP_XLA_CACHE", "")
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if setting.lower() in ("0", "off", "false", "no") or "persistent_cache_directory" in flags:
        return
    folder = Path(setting) if setting else data_mod.cache_path().parent / "xla"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _prune(folder, XLA_CACHE_ENTRIES)
    except OSError:
        return  # no cache, no harm: the steps are compiled as before
    os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={folder}".strip()


# The XLA cache keeps its newest entries (about 60 kB each; a config's train and
# evaluation steps are two): TensorFlow itself never deletes any.
XLA_CACHE_ENTRIES = 400


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the `keep` newest files of `folder` (an entry used again after its
    deletion is compiled and written again)."""
    entries = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in entries[keep:]:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# Most runs trained in one stack; more would only add memory, not speed (benchmarks/).
MAX_GROUP = 16


def run(cfg: Config, data: Dataset, *, checkpoint_root: str | Path = "checkpoints",
        log_root: str | Path = "logs", fresh: bool = False,
        reporter: Reporter | None = None) -> dict:
    """Train one run to `cfg.train.epochs`, resuming its own checkpoint if there is one."""
    return run_many([cfg], data, checkpoint_root=checkpoint_root, log_root=log_root,
                    fresh=fresh, reporter=reporter)[0]


def run_many(cfgs: list[Config], data: Dataset, *, checkpoint_root: str | Path = "checkpoints",
             log_root: str | Path = "logs", fresh: bool = False, fuse: bool = True,
             reporter: Reporter | None = None) -> list[dict]:
    """Train several runs, each exactly as `run` would (same folders, same bits).

    With `fuse`, runs that differ only in init and seed and stand at the same step are
    trained together in one stack (fused.py); otherwise one by one. Returns the results
    in the order of `cfgs`.
    """
    tensorflow()
    reporter = reporter or Reporter()
    results: dict[int, dict] = {}
    members: list[_Run] = []  # the runs to train
    locks: list[records.RunLock] = []  # every run this call touches, until it returns
    try:
        for index, cfg in enumerate(cfgs):
            paths = RunPaths.of(cfg, checkpoint_root, log_root)
            locks.append(records.RunLock(paths).acquire())
            member = _Run.open(cfg, data, paths, fresh)
            if isinstance(member, dict):  # finished earlier
                reporter.start([cfg], member["step"], member["step"], data.source)
                results[index] = member
                continue
            member.index = index
            members.append(member)
        key = (lambda m: f"{m.start} {shared_settings(m.cfg)}") if fuse else (lambda m: m.index)
        for chunk in stacks(members, key):
            for member, result in zip(chunk, _train_group(chunk, data, reporter)):
                results[member.index] = result
            faults.point("group")
    finally:
        for lock in locks:
            lock.release()
    return [results[i] for i in range(len(cfgs))]


def stacks(items: list, key) -> list[list]:
    """`items` grouped by `key` (in first-seen order), each group cut into stacks of at
    most MAX_GROUP: what trains together, here and as one Ray task (distributed.py)."""
    by_key: dict = {}
    for item in items:
        by_key.setdefault(key(item), []).append(item)
    return [group[i:i + MAX_GROUP] for group in by_key.values()
            for i in range(0, len(group), MAX_GROUP)]


def shared_settings(cfg: Config) -> str:
    """Everything but init and seed: runs that agree on it can share a stack."""
    return repr({k: v for k, v in to_dict(cfg).items() if k not in ("init", "seed")})


class _Run:
    """One run's own objects: config, folders, model, optimizer, checkpoint state, writer."""

    index = 0

    @classmethod
    def open(cls, cfg: Config, data: Dataset, paths: RunPaths, fresh: bool):
        """Apply the resume rules (checkpoints.py): a finished run's result, or a `_Run`
        ready to train from its newest checkpoint (or from step 0)."""
        import tensorflow as tf

        checkpoints.resume_rules(cfg, paths, fresh)
        done = records.finished(cfg, paths)
        if done:
            return {**done, "resumed_from_step": done["step"]}
        paths.create()
        self = cls()
        self.cfg, self.paths = cfg, paths
        self.model, self.optimizer = models.build_model(cfg), models.build_optimizer(cfg)
        self.state = checkpoints.RunState(self.model, self.optimizer, paths, cfg.checkpoint.keep)
        self.start, self.notes = self.state.restore() if self.state.latest else (0, [])
        self.steps_per_epoch = math.ceil(len(data.y_train) / cfg.train.batch_size)
        self.total = self.steps_per_epoch * cfg.train.epochs
        if self.start > self.total:
            raise CheckpointError(f"{paths.checkpoints} has already trained {self.start} "
                                  f"steps, more than train.epochs={cfg.train.epochs} asks "
                                  f"({self.total}); rerun with --fresh to start over")
        records.write_config(paths, cfg)
        records.truncate_metrics(paths, self.start)
        self.writer = tf.summary.create_file_writer(str(paths.logs))
        if self.start == 0:
            _write_hparams(self.writer, cfg)
        if self.start == 0 and cfg.init.name == "lsuv":  # data-dependent: before step 1
            log = lsuv.apply(self.model, cfg, data)
            records.write_atomic(paths.logs / "lsuv.json", json.dumps(log, indent=2) + "\n")
            self.notes.append(f"{cfg.run_name}: {lsuv.summary(log)}")
        # log.histograms: the signal inside the model on its first batch, over time.
        self.probe = (data_mod.first_rows(data, cfg.seed, cfg.train.batch_size)
                      if cfg.log.histograms else None)
        if self.probe and self.start == 0:
            self.write_signal(0)
        self.seconds_before = float(self.state.seconds.numpy())
        # The newest evaluation row: what a run killed after its last checkpoint but
        # before its result reports, when there is nothing left to train.
        rows = records.read_metrics(paths)
        self.last: dict = dict(rows[-1]) if rows else {}
        loss, accuracy = self.state.logged.numpy()
        if self.start and math.isfinite(loss):  # the last log point's, which may be newer
            self.last.update(train_loss=float(loss), train_accuracy=float(accuracy))
        self.diverged_step = None
        return self

    def write_signal(self, step: int) -> None:
        """log.histograms: TensorBoard histograms and per-layer std (diagnose.py) of the
        model's current weights. Reads the weights only: training is unchanged."""
        if self.probe:
            diagnose.signal_summaries(self.model, self.cfg, *self.probe, self.writer, step)

    def save(self, stack, index: int, seconds: float) -> None:
        stack.store(index)
        self.state.step.assign(stack.step)
        self.state.sums.assign(stack.read_sums(reset=False)[index])
        self.state.logged.assign([self.last.get("train_loss", math.nan),
                                  self.last.get("train_accuracy", math.nan)])
        self.state.seconds.assign(self.seconds_before + seconds)
        self.state.save()
        self.writer.flush()
        faults.point("checkpoint")

    def result(self, stack, index: int, step: int, seconds: float, source: str) -> dict:
        stack.store(index)
        cfg, last = self.cfg, self.last
        self.writer.flush()
        result = records_row({
            "name": cfg.name, "init": cfg.init.name, "seed": cfg.seed, "step": step,
            "epoch": step / self.steps_per_epoch, "epochs": cfg.train.epochs,
            "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
            "train_loss": last["train_loss"], "train_accuracy": last["train_accuracy"],
            "seconds": round(self.seconds_before + seconds, 3),
            "diverged": self.diverged_step is not None, "diverged_step": self.diverged_step,
            "trained_with": stack.k, "weights_sha256": weights_sha256(self.model),
            "data": source, "checkpoint_dir": str(self.paths.checkpoints),
            "log_dir": str(self.paths.logs)})
        faults.point("result")
        records.write_result(self.paths, result)
        return {**result, "resumed_from_step": self.start}


def _train_group(members: list[_Run], data: Dataset, reporter: Reporter) -> list[dict]:
    """Train runs that stand at the same step as one stack; each keeps its own records,
    checkpoints, divergence and result, exactly as if it had trained alone."""
    first = members[0]
    cfg, start, total, per_epoch = first.cfg, first.start, first.total, first.steps_per_epoch
    reporter.start([m.cfg for m in members], total, start, data.source)
    for m in members:
        for line in m.notes:
            reporter.note(line)
    stack = fused.Stack(cfg, [(m.model, m.optimizer) for m in members], data)
    stack.load(start, np.stack([m.state.sums.numpy() for m in members]))
    live = dict(enumerate(members))  # the runs still training, by stack index
    results: dict[int, dict] = {}
    clock = time.perf_counter()

    def seconds() -> float:
        return time.perf_counter() - clock

    def finish(i: int, step: int) -> None:
        results[i] = live.pop(i).result(stack, i, step, seconds(), data.source)
        reporter.finish(results[i])

    # The loop: log, evaluate, checkpoint, in that order, at global-step multiples.
    step = start
    try:
        for epoch in range(start // per_epoch, cfg.train.epochs):
            orders = np.stack([data_mod.epoch_order(len(data.y_train), m.cfg.seed, epoch)
                               for m in members])
            skip = step - epoch * per_epoch
            for idx, count in data_mod.epoch_batches(orders, cfg.train.batch_size, skip):
                stack.train_step(idx, count)
                step += 1
                faults.point("step")
                end_of_epoch = step % per_epoch == 0
                if step % cfg.log.every_steps == 0 or end_of_epoch:
                    sums = stack.read_sums()
                    for i, m in live.items():
                        m.last = _log_train(sums[i], m.writer, step)
                    reporter.progress(step, [{"run": m.cfg.run_name, **m.last}
                                             for m in live.values()])
                    diverged = [i for i, m in live.items()
                                if not math.isfinite(m.last["train_loss"])]
                    if diverged:  # evaluated as they are now, then left out
                        evals = stack.evaluate()
                        for i in diverged:
                            live[i].last.update(evals[i])
                            live[i].diverged_step = step
                            finish(i, step)
                        if not live:
                            break
                every = cfg.eval.every_steps
                if end_of_epoch or (every and step % every == 0):
                    evals = stack.evaluate()
                    faults.point("evaluate")
                    for i, m in live.items():
                        m.last.update(evals[i])
                        _write_test(m.writer, step, evals[i])
                        m.last.update(step=step, epoch=step / per_epoch,
                                      seconds=m.seconds_before + seconds())
                        records.append_metrics(m.paths, records_row(m.last))
                        faults.point("metrics")
                if end_of_epoch or step % (cfg.checkpoint.every_steps or total + 1) == 0:
                    for i, m in live.items():
                        m.save(stack, i, seconds())
                if end_of_epoch:
                    for m in live.values():
                        m.write_signal(step)  # after save: the model holds this step's weights
                        reporter.epoch_end(_epoch_line(m.cfg, epoch + 1, cfg.train.epochs, m.last))
            if not live:
                break
    except KeyboardInterrupt:
        for i, m in live.items():
            m.save(stack, i, seconds())
        raise Interrupted(f"interrupted at step {int(stack.step.numpy())} of {total}; "
                          "checkpoint saved. Rerun the same command to resume") from None

    for i in list(live):
        finish(i, step)
    return [results[i] for i in range(len(members))]


def evaluate_run(cfg: Config, data: Dataset, *, checkpoint_root: str | Path = "checkpoints") -> dict:
    """Test accuracy and loss of a run's newest checkpoint, through the same compiled
    code as training (so it matches the run's own last evaluation to the bit)."""
    tensorflow()
    paths = RunPaths.of(cfg, checkpoint_root, "logs")
    saved, model, step, warnings = checkpoints.restore_for_eval(cfg, paths)
    optimizer = models.build_optimizer(saved)
    optimizer.build(model.trainable_variables)
    stack = fused.Stack(saved, [(model, optimizer)], data)
    stack.load(step)
    metrics = stack.evaluate()[0]
    steps_per_epoch = math.ceil(len(data.y_train) / saved.train.batch_size)
    return records_row({"name": saved.name, "init": saved.init.name, "seed": saved.seed,
                        "step": step, "epoch": step / steps_per_epoch, **metrics,
                        "weights_sha256": weights_sha256(model),
                        "checkpoint_dir": str(paths.checkpoints), "warnings": warnings})


def _log_train(sums, writer, step: int) -> dict:
    """Mean train loss and accuracy since the last log point, from a run's (3,) sums."""
    import tensorflow as tf

    loss_sum, acc_sum, count = sums
    metrics = {"train_loss": float(loss_sum / count), "train_accuracy": float(acc_sum / count)}
    with writer.as_default(step=step):
        tf.summary.scalar("train/loss", metrics["train_loss"])
        tf.summary.scalar("train/accuracy", metrics["train_accuracy"])
    return metrics


def _write_test(writer, step: int, metrics: dict) -> None:
    import tensorflow as tf

    with writer.as_default(step=step):
        tf.summary.scalar("test/loss", metrics["test_loss"])
        tf.summary.scalar("test/accuracy", metrics["test_accuracy"])


def _write_hparams(writer, cfg: Config) -> None:
    from tensorboard.plugins.hparams import api as hp

    flat = {k: v if isinstance(v, (bool, int, float, str)) else str(v)
            for k, v in flatten(to_dict(cfg)).items() if not k.startswith("compare.")}
    with writer.as_default():
        hp.hparams(flat, trial_id=f"{cfg.name}/{cfg.run_name}")


def _epoch_line(cfg: Config, epoch: int, epochs: int, m: dict) -> str:
    return (f"{cfg.run_name}: epoch {epoch}/{epochs}  step {m['step']}  train loss {m['train_loss']:.4f} "
            f"acc {m['train_accuracy']:.2%}  test loss {m['test_loss']:.4f} "
            f"acc {m['test_accuracy']:.2%}  {m['seconds']:.1f}s")


def records_row(row: dict) -> dict:
    """Floats rounded for plain files; NaN and inf become null (JSON has neither)."""
    def clean(v):
        if isinstance(v, float):
            return round(v, 6) if math.isfinite(v) else None
        return v

    return {k: clean(v) for k, v in row.items()}


def weights_sha256(model) -> str:
    """A fingerprint of every weight, to check determinism and resume at a glance."""
    h = hashlib.sha256()
    for w in model.weights:
        h.update(w.numpy().tobytes())
    return h.hexdigest()
