"""LSUV, layer-sequential unit-variance initialization (Mishkin & Matas 2016).

The one data-dependent initializer: the model is built with orthogonal kernels (the
registry's `lsuv` entry), then, layer by layer from the input, each kernel is divided by
the std of its layer's output on a batch of training images until that output's variance
is 1 within `tol` (at most `max_iter` rescalings per layer). "Output" is the Dense
layer's output before its activation, as a Linear module's output in the usual
implementations; the logits layer is scaled too, as in the paper.

Deterministic for a seed, and the same bits on every machine: the batch is the first
`batch` images of the run's first epoch (batches.first_rows), the orthogonal start is
seeded per layer and computed in a fixed order (inits/orthogonal.py), and so are the layer
outputs whose variance sets each divisor (`_pre_activation64`). It runs once, before the
first step; a resumed run restores the rescaled weights from its checkpoint.
"""

from __future__ import annotations

import math

import numpy as np

from initcmp.engine import batches
from initcmp.engine import models
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset


def apply(model, cfg: Config, dataset: Dataset) -> list[dict]:
    """Rescale `model`'s kernels in place; return one log entry per layer:
    {"layer", "iterations", "variance_before", "variance"}."""
    import keras
    import tensorflow as tf

    params = cfg.init.params
    x, _ = batches.first_rows(dataset, cfg.seed, params["batch"])
    layers = models.dense_layers(model)
    h = x.reshape(len(x), -1).astype(np.float64)
    activation = keras.activations.get(cfg.model.activation)
    log = []
    for i, layer in enumerate(layers):
        # The layers below are final, so this layer's input `h` is fixed while it is scaled.
        pre = _pre_activation64(layer, h)
        before = variance = _variance(pre)
        iterations = 0
        while (
            abs(variance - 1.0) >= params["tol"]
            and iterations < params["max_iter"]
            and math.isfinite(variance)
            and variance > 0
        ):
            layer.kernel.assign(layer.kernel / np.float32(math.sqrt(variance)))
            pre = _pre_activation64(layer, h)
            variance = _variance(pre)
            iterations += 1
        log.append(
            {
                "layer": layer.name,
                "iterations": iterations,
                "variance_before": before,
                "variance": variance,
            }
        )
        h = pre if i == len(layers) - 1 else np.asarray(activation(tf.constant(pre)))
    return log


def summary(log: list[dict]) -> str:
    """One line for the terminal: what LSUV did."""
    worst = max(log, key=lambda e: abs(e["variance"] - 1.0))
    steps = sum(e["iterations"] for e in log)
    return (
        f"lsuv: {len(log)} layers scaled to unit output variance in {steps} rescalings "
        f"(furthest from 1: {worst['layer']} at {worst['variance']:.4f})"
    )


def _pre_activation64(layer, h: np.ndarray) -> np.ndarray:
    """The layer's output before its activation, computed in float64 from its float32
    weights, in one fixed order: the products of input k are added for k = 0, 1, ...

    Not the model's own float32 arithmetic, nor any library's matmul, on purpose: matmul
    kernels block their sums by the CPU's cache sizes and vector width (oneDNN or Eigen,
    AVX2 or AVX-512, a 32 or 48 KiB L1), so their last bits differ between machines, and
    through 20 layers of SGD a rescaled kernel's last bit moves a run by points of
    accuracy. Elementwise float64 operations are correctly rounded on every machine, so
    this sum, and the variance and the float32 divisor taken from it, are the same bits
    everywhere (tests/test_lsuv.py, tests/test_fingerprint.py)."""
    kernel = layer.kernel.numpy().astype(np.float64)
    out = np.zeros((h.shape[0], kernel.shape[1]))
    for h_k, w_k in zip(np.ascontiguousarray(h.T), kernel):
        out += np.multiply.outer(h_k, w_k)
    return out + layer.bias.numpy().astype(np.float64)


def _variance(pre: np.ndarray) -> float:
    return float(np.var(pre))
