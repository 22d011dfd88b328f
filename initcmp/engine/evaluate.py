"""`initcmp eval`: the test accuracy and loss of a run's newest checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

from initcmp.engine import checkpoints
from initcmp.engine import fused
from initcmp.engine import memory
from initcmp.engine import models
from initcmp.store import records
from initcmp.engine import runtime
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset
from initcmp.store.records import RunPaths


def evaluate_run(
    cfg: Config, data: Dataset, *, checkpoint_root: str | Path = "checkpoints"
) -> dict:
    """Evaluate a run's newest readable checkpoint through the same compiled code as
    training (a stack of one), so it matches the run's own last evaluation to the bit."""
    runtime.tensorflow()
    paths = RunPaths.of(cfg, checkpoint_root, "logs")
    saved = records.read_config(paths.checkpoints)  # None: restore_for_eval says so
    if saved:
        memory.check(memory.evaluating(saved, data))
    saved, model, step, warnings = checkpoints.restore_for_eval(cfg, paths)
    optimizer = models.build_optimizer(saved)
    optimizer.build(model.trainable_variables)
    stack = fused.StackedRuns(saved, [(model, optimizer)], data)
    stack.load(step)
    metrics = stack.evaluate()[0]
    steps_per_epoch = math.ceil(len(data.y_train) / saved.train.batch_size)
    return records.rounded(
        {
            **records.identity(saved),
            "step": step,
            "epoch": step / steps_per_epoch,
            **metrics,
            "weights_sha256": models.weights_sha256(model),
            "checkpoint_dir": str(paths.checkpoints),
            "warnings": warnings,
        }
    )
