"""TensorBoard: each run's event files, beside its plain-file records (store/records.py).

Scalars `train/loss`, `train/accuracy` at every log point and `test/loss`,
`test/accuracy` at every evaluation and at step 0; the run's config as HParams, and once
per experiment folder the HParams table's columns (`experiment`); with `log.histograms`,
weight and activation histograms and per-layer `signal/activation_std|gradient_std/...`
at initialization and each epoch's end. Nothing here changes what is trained.
"""

from __future__ import annotations

import math
import weakref
from pathlib import Path

import numpy as np

from initcmp.inits import registry
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


def experiment(folder: Path) -> None:
    """The HParams table's columns for the experiment whose runs are under `folder`
    (logs/<name>/): init and seed, then the final test accuracy and loss. Without it
    TensorBoard shows every config key and hides the seed. Written once: the same for
    every experiment, so one `tensorboard --logdir logs` over several reads the same."""
    if any(folder.glob("events.out.tfevents.*")):
        return
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    columns = [
        hp.HParam("init.name", hp.Discrete(list(registry.REGISTRY)), display_name="init"),
        hp.HParam("seed", display_name="seed"),
    ]
    metrics = [
        hp.Metric("test/accuracy", display_name="test accuracy"),
        hp.Metric("test/loss", display_name="test loss"),
    ]
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        hp.hparams_config(hparams=columns, metrics=metrics)
    writer.close()


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
