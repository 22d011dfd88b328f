"""The signal inside a model on one batch, layer by layer: each Dense layer's fan-in and
fan-out, weight std (and the formula's), activation mean and std after the
nonlinearity, dead ReLU or saturated tanh/sigmoid units, and the std of the loss's
gradient for its kernel. `inspect` (analysis/diagnose.py) and TensorBoard's `log.histograms`
(engine/tensorboard.py) both measure with it. inf and NaN are values like any other."""

from __future__ import annotations

import math

import numpy as np

from initcmp.inits import registry
from initcmp.engine import models
from initcmp.config.schema import Config

# Where a unit's slope is under 5 % of its peak, from its output h.
_SATURATED = {"tanh": lambda h: 1.0 - h * h < 0.05, "sigmoid": lambda h: 4.0 * h * (1.0 - h) < 0.05}


def measure(model, cfg: Config, x: np.ndarray, y: np.ndarray) -> tuple[list[dict], float]:
    """Per-layer statistics of `model` on images `x` (n, 28, 28) in [0, 1] and labels
    `y`, and the batch's mean cross-entropy."""
    outputs, grads, loss = _forward_backward(model, cfg, x, y)
    return _rows(model, cfg, outputs, grads), loss


def measure_layers(model, cfg: Config, x: np.ndarray, y: np.ndarray) -> tuple[list[dict], list]:
    """Per-layer statistics of `model` on images `x` (n, 28, 28) in [0, 1] and labels
    `y`, with each layer's (pre, post) outputs."""
    outputs, grads, _ = _forward_backward(model, cfg, x, y)
    return _rows(model, cfg, outputs, grads), outputs


def _forward_backward(model, cfg: Config, x: np.ndarray, y: np.ndarray):
    """Each layer's (pre, post) outputs, each kernel's gradient, and the mean loss."""
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        outputs = models.forward(model, cfg.model.activation, x)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(
                tf.constant(y), outputs[-1][1], from_logits=True
            )
        )
    grads = tape.gradient(loss, [layer.kernel for layer in models.dense_layers(model)])
    return outputs, grads, float(loss.numpy())


def _rows(model, cfg: Config, outputs, grads) -> list[dict]:
    dense = models.dense_layers(model)
    saturated = _SATURATED.get(cfg.model.activation)
    rows = []
    for i, (layer, (_, post), grad) in enumerate(zip(dense, outputs, grads)):
        hidden = i < len(dense) - 1
        kernel = layer.kernel.numpy()
        h = post.numpy().astype(np.float64)
        finite = bool(np.isfinite(h).all())
        fan_in, fan_out = kernel.shape
        rows.append(
            {
                "name": layer.name,
                "fan_in": int(fan_in),
                "fan_out": int(fan_out),
                "weight_std": _std(kernel),
                "expected_weight_std": registry.expected_std(
                    cfg.init.name, cfg.init.params, fan_in, fan_out
                ),
                "activation_mean": _mean(h),
                "activation_std": _std(h),
                "dead_fraction": (
                    float(np.mean(np.all(h <= 0, axis=0)))
                    if hidden and finite and cfg.model.activation == "relu"
                    else None
                ),
                "saturated_fraction": (
                    float(np.mean(saturated(h))) if hidden and finite and saturated else None
                ),
                "gradient_std": _std(grad.numpy()),
            }
        )
    return rows


def _std(values) -> float:
    """The std in float64; inf if any value is inf, NaN if any is NaN."""
    a = np.asarray(values, np.float64)
    if np.isnan(a).any():
        return math.nan
    if np.isinf(a).any():
        return math.inf
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.std(a))


def _mean(values) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.mean(np.asarray(values, np.float64)))
