"""TensorBoard: each run's event files, beside its plain-file records (records.py).

Scalars `train/loss`, `train/accuracy` at every log point and `test/loss`,
`test/accuracy` at every evaluation; the run's config as HParams; with `log.histograms`,
weight and activation histograms and per-layer `signal/activation_std|gradient_std/...`
at initialization and each epoch's end. Nothing here changes what is trained.
"""

from __future__ import annotations

import math

import numpy as np

from initcmp import diagnose, models
from initcmp.config import Config, flatten, to_dict


def writer(folder):
    import tensorflow as tf

    return tf.summary.create_file_writer(str(folder))


def scalars(writer, step: int, prefix: str, metrics: dict) -> None:
    """`<prefix>/loss` and `<prefix>/accuracy` from `metrics[f"{prefix}_loss"]` etc."""
    import tensorflow as tf

    with writer.as_default(step=step):
        tf.summary.scalar(f"{prefix}/loss", metrics[f"{prefix}_loss"])
        tf.summary.scalar(f"{prefix}/accuracy", metrics[f"{prefix}_accuracy"])


def hparams(writer, cfg: Config) -> None:
    """The run's config, flattened, as TensorBoard HParams (the comparison's own keys left out)."""
    from tensorboard.plugins.hparams import api as hp

    flat = {
        k: v if isinstance(v, (bool, int, float, str)) else str(v)
        for k, v in flatten(to_dict(cfg)).items()
        if not k.startswith("compare.")
    }
    with writer.as_default():
        hp.hparams(flat, trial_id=f"{cfg.name}/{cfg.run_name}")


def signal(model, cfg: Config, x: np.ndarray, y: np.ndarray, writer, step: int) -> None:
    """`log.histograms`: weight and activation histograms and per-layer activation and
    gradient std (diagnose.py) of `model` on the probe batch (x, y), at `step`. Reads
    the weights only."""
    import tensorflow as tf

    rows, outputs = diagnose.measure_layers(model, cfg, x, y)
    with writer.as_default(step=step):
        for layer, row, (_, post) in zip(models.dense_layers(model), rows, outputs):
            name = row["name"]
            tf.summary.histogram(f"weights/{name}", layer.kernel.numpy())
            values = post.numpy()
            tf.summary.histogram(f"activations/{name}", values[np.isfinite(values)])
            for key in ("activation_std", "gradient_std"):
                if math.isfinite(row[key]):
                    tf.summary.scalar(f"signal/{key}/{name}", row[key])
