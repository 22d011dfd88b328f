"""One run while it trains: its config, folders, Keras model and optimizer, checkpoint
state, TensorBoard writer and last metrics, and what it writes (engine/train.py drives it).

A `Run` is opened only for a run that still has steps to train: the caller applies the
resume rules (engine/checkpoints.py) and reads a finished run's result from its record first.
"""

from __future__ import annotations

import json
import math

from initcmp.engine import batches
from initcmp.engine import checkpoints
from initcmp.engine import faults
from initcmp.engine import lsuv
from initcmp.engine import models
from initcmp.store import records
from initcmp.engine import tensorboard
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset
from initcmp.errors import CheckpointError
from initcmp.store.records import RunPaths


class Run:
    def __init__(self, cfg: Config, dataset: Dataset, paths: RunPaths, index: int = 0):
        """Build the run's model and optimizer and restore its newest checkpoint (or
        start at step 0: then write its HParams, apply LSUV and log its first signal).
        `index` is its place in the caller's list of configs."""
        paths.create()
        self.cfg, self.paths, self.index = cfg, paths, index
        self.model, self.optimizer = models.build_model(cfg), models.build_optimizer(cfg)
        self.state = checkpoints.RunState(self.model, self.optimizer, paths, cfg.checkpoint.keep)
        self.start, self.notes = self.state.restore() if self.state.latest else (0, [])
        self.steps_per_epoch = math.ceil(len(dataset.y_train) / cfg.train.batch_size)
        self.total = cfg.train.total_steps(len(dataset.y_train))
        if self.start > self.total:
            # records.finished reads such a run at the asked budget from its metrics; here
            # that row is missing. Offer only fixes that touch this run alone.
            more = (
                f"--set train.steps={self.start}"
                if cfg.train.steps
                else f"--epochs {math.ceil(self.start / self.steps_per_epoch)}"
            )
            raise CheckpointError(
                f"{paths.checkpoints} has already trained {self.start} steps, more than "
                f"{cfg.train.budget} ({self.total} steps), and {paths.metrics} has no "
                f"evaluation at step {self.total} to read instead; ask for {more} or more, "
                f"or {checkpoints.start_over(cfg)}"
            )
        records.write_config(paths, cfg)
        records.truncate_metrics(paths, self.start)
        self.writer = tensorboard.writer(paths.logs)
        # log.histograms: the signal inside the model on its first batch, over time.
        self.probe = (
            batches.first_rows(dataset, cfg.seed, cfg.train.batch_size)
            if cfg.log.histograms
            else None
        )
        if self.start == 0:
            self._initialise(dataset)
        self.seconds_before = float(self.state.seconds.numpy())
        self.last = self._last_metrics()
        self.diverged_step: int | None = None

    def _initialise(self, dataset: Dataset) -> None:
        """Step 0: the config as HParams, LSUV (data-dependent, so before step 1) and the
        signal at initialization."""
        tensorboard.hparams(self.writer, self.cfg)
        if self.cfg.init.name == "lsuv":
            log = lsuv.apply(self.model, self.cfg, dataset)
            records.write_atomic(self.paths.logs / "lsuv.json", json.dumps(log, indent=2) + "\n")
            self.notes.append(f"{self.cfg.run_name}: {lsuv.summary(log)}")
        self.write_signal(0)

    def _last_metrics(self) -> dict:
        """The newest evaluation row: what a run killed after its last checkpoint but
        before its result reports, when there is nothing left to train; with the train
        metrics of the last log point, which may be newer."""
        rows = records.read_metrics(self.paths)
        last = dict(rows[-1]) if rows else {}
        loss, accuracy = self.state.logged.numpy()
        if self.start and math.isfinite(loss):
            last.update(train_loss=float(loss), train_accuracy=float(accuracy))
        return last

    # --- what a run writes ---------------------------------------------------------------

    def log_train(self, sums, step: int) -> None:
        """Mean train loss and accuracy since the last log point, from the run's (3,)
        running sums, to TensorBoard."""
        loss_sum, acc_sum, count = sums
        self.last = {
            "train_loss": float(loss_sum / count),
            "train_accuracy": float(acc_sum / count),
        }
        tensorboard.scalars(self.writer, step, "train", self.last)

    def log_initial(self, metrics: dict) -> None:
        """The test metrics before the first step, to TensorBoard only: its curves start
        at initialization, while metrics.jsonl keeps the evaluations of training."""
        tensorboard.evaluation(self.writer, 0, metrics)

    def record_evaluation(self, step: int, metrics: dict, seconds: float) -> None:
        """An evaluation to TensorBoard and, with the last train metrics, to metrics.jsonl."""
        self.last.update(metrics)
        tensorboard.evaluation(self.writer, step, metrics)
        self.last.update(
            step=step, epoch=step / self.steps_per_epoch, seconds=self.seconds_before + seconds
        )
        records.append_metrics(self.paths, records.rounded(self.last))

    def write_signal(self, step: int) -> None:
        """log.histograms: the signal of the model's current weights (engine/tensorboard.py)."""
        if self.probe:
            tensorboard.signal(self.model, self.cfg, *self.probe, self.writer, step)

    def save(self, stack, slot: int, seconds: float) -> None:
        """A checkpoint of the run's slot of `stack`, with its step, sums and seconds."""
        stack.store(slot)
        self.state.step.assign(stack.step)
        self.state.sums.assign(stack.read_sums(reset=False)[slot])
        self.state.logged.assign(
            [self.last.get("train_loss", math.nan), self.last.get("train_accuracy", math.nan)]
        )
        self.state.seconds.assign(self.seconds_before + seconds)
        self.state.save()
        self.writer.flush()
        faults.point("checkpoint")

    def result(self, stack, slot: int, step: int, seconds: float, source: str) -> dict:
        """The run's final numbers, written to result.json."""
        stack.store(slot)
        self.writer.flush()
        result = records.RunResult.of(
            self.cfg,
            self.paths,
            step=step,
            epoch=step / self.steps_per_epoch,
            metrics=self.last,
            seconds=round(self.seconds_before + seconds, 3),
            diverged=self.diverged_step is not None,
            diverged_step=self.diverged_step,
            trained_with=stack.k,
            weights_sha256=models.weights_sha256(self.model),
            data=source,
        )
        faults.point("result")
        return {**result.write(self.paths), "resumed_from_step": self.start}

    def epoch_line(self, epoch: int) -> str:
        m, epochs = self.last, math.ceil(self.total / self.steps_per_epoch)
        return (
            f"{self.cfg.run_name}: epoch {epoch}/{epochs}  step {m['step']}  "
            f"train loss {m['train_loss']:.4f} acc {m['train_accuracy']:.2%}  "
            f"test loss {m['test_loss']:.4f} acc {m['test_accuracy']:.2%}  "
            f"{m['seconds']:.1f}s"
        )
