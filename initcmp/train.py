"""Training and evaluation. `run(cfg, data, ...)` is the one function the CLI, `compare`
and the tests all call; it takes its data as an argument, so tests never download.

Determinism: op determinism is on, every kernel has its own seed, the epoch order is a
function of (seed, epoch), and the running train-loss sums live in the checkpoint, so a
rerun after any interruption ends with the same weights and the same metrics.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
import time
from pathlib import Path

from initcmp import checkpoints, data as data_mod, models, records
from initcmp.config import Config, flatten, to_dict
from initcmp.data import Dataset
from initcmp.errors import CheckpointError, Interrupted
from initcmp.records import RunPaths


class Reporter:
    """What a caller sees of runs while they train. The CLI draws with it; these no-ops
    are the library's default, which prints nothing. `compare_start` and `skipped`
    come from a comparison, the others from each run it trains."""

    def compare_start(self, runs: int): ...
    def skipped(self, cfg: Config, result: dict): ...
    def start(self, cfg: Config, total_steps: int, resumed_from_step: int, source: str): ...
    def progress(self, step: int, train_loss: float, train_accuracy: float): ...
    def epoch_end(self, line: str): ...
    def finish(self, result: dict): ...


def tensorflow():
    """Import TensorFlow quietly, with deterministic ops (idempotent).

    TF 2.21 writes start-up lines (oneDNN, CUDA probing) from C++ before its log level
    applies, so stderr is closed at the descriptor level while it loads and looks for
    devices. Set INITCMP_TF_LOGS=1 to see them.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("INITCMP_TF_LOGS"):
        import tensorflow as tf
    else:
        with _stderr_silenced():
            import tensorflow as tf

            tf.config.list_physical_devices()
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")  # each run traces its own steps: retracing is expected
    return tf


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


def run(cfg: Config, data: Dataset, *, checkpoint_root: str | Path = "checkpoints",
        log_root: str | Path = "logs", fresh: bool = False,
        reporter: Reporter | None = None) -> dict:
    """Train one run to `cfg.train.epochs`, resuming its own checkpoint if there is one."""
    tf = tensorflow()
    reporter = reporter or Reporter()
    paths = RunPaths.of(cfg, checkpoint_root, log_root)

    # 1. Resume rules (checkpoints.py); a finished run is reported, not retrained.
    checkpoints.resume_rules(cfg, paths, fresh)
    done = records.finished(cfg, paths)
    if done:
        reporter.start(cfg, done["step"], done["step"], data.source)
        return {**done, "resumed_from_step": done["step"]}
    paths.create()
    model, optimizer = models.build_model(cfg), models.build_optimizer(cfg)
    state = checkpoints.RunState(model, optimizer, paths, cfg.checkpoint.keep)
    start = state.restore() if state.latest else 0
    steps_per_epoch = math.ceil(len(data.y_train) / cfg.train.batch_size)
    total = steps_per_epoch * cfg.train.epochs
    if start > total:
        raise CheckpointError(f"{paths.checkpoints} has already trained {start} steps, more "
                              f"than train.epochs={cfg.train.epochs} asks ({total}); "
                              "rerun with --fresh to start over")
    records.write_config(paths, cfg)
    records.truncate_metrics(paths, start)
    writer = tf.summary.create_file_writer(str(paths.logs))
    if start == 0:
        _write_hparams(writer, cfg)
    reporter.start(cfg, total, start, data.source)

    # 2. Compiled steps over in-memory tensors.
    train_step, evaluate = _compile(model, optimizer, state)
    x_train, y_train = tf.constant(data.x_train), tf.constant(data.y_train)
    x_test, y_test = tf.constant(data.x_test), tf.constant(data.y_test)
    clock, seconds_before = time.perf_counter(), float(state.seconds.numpy())

    def seconds() -> float:
        return seconds_before + time.perf_counter() - clock

    # 3. The loop: log, evaluate, checkpoint, in that order, at global-step multiples.
    step, diverged_step, last = start, None, {}
    try:
        for epoch in range(start // steps_per_epoch, cfg.train.epochs):
            order = data_mod.epoch_order(len(data.y_train), cfg.seed, epoch)
            skip = step - epoch * steps_per_epoch
            for x, y in data_mod.epoch_batches(x_train, y_train, order,
                                               cfg.train.batch_size, skip):
                train_step(x, y)
                step += 1
                end_of_epoch = step % steps_per_epoch == 0
                if step % cfg.log.every_steps == 0 or end_of_epoch:
                    last = _log_train(state, writer, step)
                    reporter.progress(step, last["train_loss"], last["train_accuracy"])
                    if not math.isfinite(last["train_loss"]):
                        diverged_step = step
                        break
                every = cfg.eval.every_steps
                if end_of_epoch or (every and step % every == 0):
                    last.update(_evaluate(evaluate, x_test, y_test, cfg, writer, step))
                    last.update(step=step, epoch=step / steps_per_epoch, seconds=seconds())
                    records.append_metrics(paths, records_row(last))
                if end_of_epoch or step % (cfg.checkpoint.every_steps or total + 1) == 0:
                    state.seconds.assign(seconds())
                    state.save()
                    writer.flush()
                if end_of_epoch:
                    reporter.epoch_end(_epoch_line(epoch + 1, cfg.train.epochs, last))
            if diverged_step is not None:
                break
    except KeyboardInterrupt:
        state.seconds.assign(seconds())
        state.save()
        writer.flush()
        raise Interrupted(f"interrupted at step {int(state.step.numpy())} of {total}; "
                          "checkpoint saved. Rerun the same command to resume") from None

    # 4. The result: final numbers (evaluated afresh if the run diverged mid-epoch).
    if diverged_step is not None:
        last.update(_evaluate(evaluate, x_test, y_test, cfg, writer, step))
    writer.flush()
    result = {"name": cfg.name, "init": cfg.init.name, "seed": cfg.seed,
              "step": step, "epoch": step / steps_per_epoch, "epochs": cfg.train.epochs,
              "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
              "train_loss": last["train_loss"], "train_accuracy": last["train_accuracy"],
              "seconds": round(seconds(), 3), "diverged": diverged_step is not None,
              "diverged_step": diverged_step, "weights_sha256": weights_sha256(model),
              "data": data.source, "checkpoint_dir": str(paths.checkpoints),
              "log_dir": str(paths.logs)}
    result = records_row(result)
    records.write_result(paths, result)
    reporter.finish(result)
    return {**result, "resumed_from_step": start}


def evaluate_run(cfg: Config, data: Dataset, *, checkpoint_root: str | Path = "checkpoints") -> dict:
    """Test accuracy and loss of a run's newest checkpoint."""
    tf = tensorflow()
    paths = RunPaths.of(cfg, checkpoint_root, "logs")
    saved, model, step = checkpoints.restore_for_eval(cfg, paths)
    _, evaluate = _compile(model, None, None)
    metrics = _evaluate(evaluate, tf.constant(data.x_test), tf.constant(data.y_test), saved)
    steps_per_epoch = math.ceil(len(data.y_train) / saved.train.batch_size)
    return records_row({"name": saved.name, "init": saved.init.name, "seed": saved.seed,
                        "step": step, "epoch": step / steps_per_epoch, **metrics,
                        "weights_sha256": weights_sha256(model),
                        "checkpoint_dir": str(paths.checkpoints)})


def _compile(model, optimizer, state):
    import tensorflow as tf

    def scale(x):  # uint8 pixels to [0, 1], as the notebook did
        return tf.cast(x, tf.float32) / 255.0

    def losses(logits, y):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32),
                                                              logits=logits)

    def correct(logits, y):
        return tf.cast(tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32),
                                tf.cast(y, tf.int32)), tf.float32)

    @tf.function(reduce_retracing=True)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(scale(x), training=True)
            loss = tf.reduce_mean(losses(logits, y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        # The step and the running sums change with the weights, in one call: a Ctrl-C
        # between two calls can never save weights and counters that disagree.
        state.step.assign_add(1)
        state.sums.assign_add(tf.stack([tf.cast(loss, tf.float64),
                                        tf.reduce_mean(tf.cast(correct(logits, y), tf.float64)),
                                        tf.constant(1.0, tf.float64)]))

    @tf.function(reduce_retracing=True)
    def evaluate(x, y):
        logits = model(scale(x), training=False)
        return tf.reduce_sum(losses(logits, y)), tf.reduce_sum(correct(logits, y))

    return train_step, evaluate


def _log_train(state, writer, step: int) -> dict:
    """Mean train loss and accuracy since the last log point, then reset the sums."""
    import tensorflow as tf

    loss_sum, acc_sum, count = state.sums.numpy()
    state.sums.assign(tf.zeros(3, tf.float64))
    metrics = {"train_loss": loss_sum / count, "train_accuracy": acc_sum / count}
    with writer.as_default(step=step):
        tf.summary.scalar("train/loss", metrics["train_loss"])
        tf.summary.scalar("train/accuracy", metrics["train_accuracy"])
    return metrics


def _evaluate(evaluate, x_test, y_test, cfg: Config, writer=None, step: int = 0) -> dict:
    import tensorflow as tf

    n, loss, correct = int(x_test.shape[0]), 0.0, 0.0
    for i in range(0, n, cfg.eval.batch_size):
        batch_loss, batch_correct = evaluate(x_test[i:i + cfg.eval.batch_size],
                                             y_test[i:i + cfg.eval.batch_size])
        loss, correct = loss + float(batch_loss), correct + float(batch_correct)
    metrics = {"test_loss": loss / n, "test_accuracy": correct / n}
    if writer is not None:
        with writer.as_default(step=step):
            tf.summary.scalar("test/loss", metrics["test_loss"])
            tf.summary.scalar("test/accuracy", metrics["test_accuracy"])
    return metrics


def _write_hparams(writer, cfg: Config) -> None:
    from tensorboard.plugins.hparams import api as hp

    flat = {k: v if isinstance(v, (bool, int, float, str)) else str(v)
            for k, v in flatten(to_dict(cfg)).items() if not k.startswith("compare.")}
    with writer.as_default():
        hp.hparams(flat, trial_id=f"{cfg.name}/{cfg.run_name}")


def _epoch_line(epoch: int, epochs: int, m: dict) -> str:
    return (f"epoch {epoch}/{epochs}  step {m['step']}  train loss {m['train_loss']:.4f} "
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
