"""Checkpoints, and the resume rules.

Resume rules, in order (this is the only place they are decided):
  1. `--fresh`: delete the run's checkpoint and log folders, start at step 0.
  2. No checkpoint in the run's folder: start at step 0.
  3. The folder's config differs from this one on a key that changes the run
     (config.RUN_KEYS: seed, data, model, init, optimizer, batch size, learning rate):
     refuse, naming the keys. `train.epochs` may grow: the run trains on.
  4. Otherwise restore weights, optimizer state (Adam's moments and step count), the
     global step and the seconds spent from the newest checkpoint. The data position
     follows from the step, since each epoch's order is a function of (seed, epoch):
     no shuffle buffer is stored, so a checkpoint of the default model is about 3 MB.

A checkpoint is written every `checkpoint.every_steps`, at each epoch's end and on
Ctrl-C; the newest `checkpoint.keep` are kept.
"""

from __future__ import annotations

from pathlib import Path

from initcmp.config import schema as config_mod
from initcmp.store import records
from initcmp.config.schema import Config
from initcmp.errors import CheckpointError, OutputError, first_line
from initcmp.store.records import RunPaths


class RunState:
    """What a checkpoint holds: model, optimizer, global step, seconds, train-loss sums,
    the last logged train metrics."""

    def __init__(self, model, optimizer, paths: RunPaths, keep: int):
        import tensorflow as tf

        optimizer.build(model.trainable_variables)  # create Adam's slots before restoring
        self.model, self.optimizer = model, optimizer
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds")
        # Running sums of train loss, accuracy and steps since the last log point.
        self.sums = tf.Variable(tf.zeros(3, tf.float64), trainable=False, name="train_sums")
        # The train loss and accuracy of the last log point (NaN before the first): the
        # next evaluation's record repeats them, so a resumed run must know them too.
        self.logged = tf.Variable(
            tf.fill([2], tf.constant(float("nan"), tf.float64)),
            trainable=False,
            name="train_logged",
        )
        self._checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            step=self.step,
            seconds=self.seconds,
            sums=self.sums,
            logged=self.logged,
        )
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, str(paths.checkpoints), max_to_keep=keep, checkpoint_name="ckpt"
        )

    @property
    def latest(self) -> str | None:
        saved = on_disk(Path(self._manager.directory))
        return saved[-1] if saved else None

    def save(self) -> None:
        try:
            self._manager.save(checkpoint_number=int(self.step.numpy()))
        except Exception as exc:  # noqa: BLE001 - TF raises its own types for I/O errors
            raise OutputError(
                f"cannot write a checkpoint in {self._manager.directory}: "
                f"{first_line(exc)} (disk full, or no write permission?); "
                "the earlier checkpoints are intact: free space and rerun "
                "to resume"
            ) from None

    def restore(self) -> tuple[int, list[str]]:
        """Restore the newest readable checkpoint; return its step and the warnings of
        `restore_newest`."""
        warnings = restore_newest(
            lambda path: self._checkpoint.restore(path).assert_existing_objects_matched(),
            Path(self._manager.directory),
        )
        return int(self.step.numpy()), warnings


def on_disk(folder: Path) -> list[str]:
    """The checkpoints in a run folder, oldest first (records.checkpoint_steps), as the
    paths TensorFlow restores."""
    return [str(folder / f"ckpt-{step}") for step in records.checkpoint_steps(folder)]


def restore_newest(restore, folder: Path) -> list[str]:
    """Call `restore(path)` on the newest checkpoint in `folder`, then on older ones while
    it fails (a corrupted or truncated file); return a warning per failure. None left:
    an error naming them all. Every checkpoint holds every variable, so a failed attempt
    leaves nothing behind once an older one is restored."""
    warnings, failed = [], []
    for path in reversed(on_disk(folder)):
        try:
            restore(path)
        except Exception as exc:  # noqa: BLE001 - TF raises many types for bad files
            failed.append(Path(path).name)
            warnings.append(
                f"warning: cannot read {path} ({first_line(exc)}); trying the one before it"
            )
            continue
        return warnings
    raise CheckpointError(
        f"no readable checkpoint in {folder} (tried {', '.join(failed)}); start this one "
        "run over with `initcmp train --init NAME --seed N --fresh` (its own --init and "
        "--seed: --fresh on a compare would start every run over)"
    )


def start_over(cfg: Config) -> str:
    """The command that starts just this run over (a compare's --fresh starts them all).
    A sweep's run is named by its folder: `train --init --seed` would name another."""
    if cfg.sweep.grid:
        experiment = "" if cfg.name == Config().name else f" --set name={cfg.name}"
        return (
            f"`initcmp rm --run '{cfg.run_name}'{experiment} --yes` deletes this one run, "
            "and the sweep trains it again"
        )
    return (
        f"`initcmp train --init {cfg.init.name} --seed {cfg.seed} --fresh` starts this one "
        "run over (with the same --config and --set)"
    )


def resume_rules(cfg: Config, paths: RunPaths, fresh: bool) -> None:
    """Rules 1 and 3 (rules 2 and 4 need the model: see `RunState`)."""
    if fresh:
        paths.remove()
        return
    saved = records.read_config(paths.checkpoints)
    if saved is None:
        return
    before, now = config_mod.run_identity(saved), config_mod.run_identity(cfg)
    changed = [k for k in sorted(before.keys() | now.keys()) if before.get(k) != now.get(k)]
    if changed:
        detail = ", ".join(f"{k} (was {before.get(k)!r}, now {now.get(k)!r})" for k in changed)
        raise CheckpointError(
            f"{paths.checkpoints} was trained with a different config: "
            f"{detail}. {start_over(cfg)}, or change `name` to keep both"
        )


def restore_for_eval(cfg: Config, paths: RunPaths):
    """The model of a run's newest readable checkpoint, built from the run's own config:
    (config, model, step, warnings)."""
    import tensorflow as tf

    from initcmp.engine import models

    saved = records.read_config(paths.checkpoints)
    if saved is None or not on_disk(paths.checkpoints):
        raise CheckpointError(
            f"no checkpoint in {paths.checkpoints}: train it first with "
            f"`initcmp train --init {cfg.init.name} --seed {cfg.seed}`"
        )
    model = models.build_model(saved)
    step = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(model=model, step=step)
    warnings = restore_newest(
        lambda path: checkpoint.restore(path).expect_partial().assert_existing_objects_matched(),
        paths.checkpoints,
    )
    return saved, model, int(step.numpy()), warnings
