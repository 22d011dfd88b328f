"""TensorBoard: each run's event files, beside its plain-file records (store/records.py).

Scalars `train/loss`, `train/accuracy` at every log point and `test/loss`,
`test/accuracy` (and, with `eval.train_images`, `train_set/loss`, `train_set/accuracy`)
at every evaluation and at step 0; the run's config as HParams; with `log.histograms`,
weight and activation histograms and per-layer `signal/activation_std|gradient_std/...`
at initialization and each epoch's end. Nothing here changes what is trained.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from initcmp.config import run_names
from initcmp.engine import measure
from initcmp.engine import models
from initcmp.config.schema import Config, flatten, to_dict


_WRITERS: weakref.WeakSet = weakref.WeakSet()  # every writer made here, for flush_all


def writer(folder):
    import tensorflow as tf

    made = tf.summary.create_file_writer(str(folder))
    _WRITERS.add(made)
    return made


def flush_all() -> None:
    """Flush every writer still open (cli._quick_exit: the process ends without Python's
    teardown, which would otherwise flush them)."""
    for made in list(_WRITERS):
        made.flush()


def scalars(writer, step: int, prefix: str, metrics: dict) -> None:
    """`<prefix>/loss` and `<prefix>/accuracy` from `metrics[f"{prefix}_loss"]` etc."""
    import tensorflow as tf

    with writer.as_default(step=step):
        tf.summary.scalar(f"{prefix}/loss", metrics[f"{prefix}_loss"])
        tf.summary.scalar(f"{prefix}/accuracy", metrics[f"{prefix}_accuracy"])


def evaluation(writer, step: int, metrics: dict) -> None:
    """An evaluation's scalars: the test set's, and the training images' when measured."""
    scalars(writer, step, "test", metrics)
    if metrics.get("train_set_loss") is not None:
        scalars(writer, step, "train_set", metrics)


# Keys that say how an experiment runs, not what a run is: not HParams columns.
NOT_HPARAMS = ("compare.", "sweep.", "ray.")


def hparams(writer, cfg: Config) -> None:
    """The run's config, flattened, as TensorBoard HParams: every key that makes the run
    what it is, with its real value (`model.depth` and `model.width` as numbers, resolved
    from `hidden`), so a sweep's axes are columns of the HParams table and its scatter
    and parallel-coordinates views. No experiment-level config is written: TensorBoard
    then takes the columns from the runs' own HParams and the metrics from their scalars
    (test and train-set accuracy and loss), and no empty run stands in the run list."""
    from tensorboard.plugins.hparams import api as hp

    flat = {
        k: v if isinstance(v, (bool, int, float, str)) else str(v)
        for k, v in flatten(to_dict(cfg)).items()
        if not k.startswith(NOT_HPARAMS)
    }
    for key in ("model.depth", "model.width"):
        resolved = run_names.value_of(cfg, key)
        flat[key] = resolved if resolved is not None else "mixed"
    with writer.as_default():
        hp.hparams(flat, trial_id=f"{cfg.name}/{cfg.run_name}")


def signal(model, cfg: Config, x: np.ndarray, y: np.ndarray, writer, step: int) -> None:
    """`log.histograms`: weight and activation histograms and per-layer activation and
    gradient std (engine/measure.py) of `model` on the probe batch (x, y), at `step`. Reads
    the weights only."""
    import tensorflow as tf

    rows, outputs = measure.measure_layers(model, cfg, x, y)
    with writer.as_default(step=step):
        for layer, row, (_, post) in zip(models.dense_layers(model), rows, outputs):
            name = row["name"]
            tf.summary.histogram(f"weights/{name}", layer.kernel.numpy())
            values = post.numpy()
            tf.summary.histogram(f"activations/{name}", values[np.isfinite(values)])
            for key in ("activation_std", "gradient_std"):
                if math.isfinite(row[key]):
                    tf.summary.scalar(f"signal/{key}/{name}", row[key])
