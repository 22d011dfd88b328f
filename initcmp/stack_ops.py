"""The math of a stack that must give the same bits for any number of runs (fused.py):
a Dense layer whose bias gradient is an ordered sum, the softmax cross-entropy with its
sum over classes ordered too, `ordered_sum` itself (a sum over a static axis as a tree
of elementwise adds, one order whatever the stack's size), `exact_sums`, the host's sums
of an evaluation's per-example numbers, and `stacked`, the runs' values of a variable as
one array.
"""

from __future__ import annotations

import math

import numpy as np


def dense(h, kernel, bias):
    """h @ kernel + bias, with the bias gradient summed by `ordered_sum` (module docstring)."""
    import tensorflow as tf

    @tf.custom_gradient
    def dense(h, kernel, bias):
        def grad(dy):
            return (
                tf.matmul(dy, kernel, transpose_b=True),
                tf.matmul(h, dy, transpose_a=True),
                ordered_sum(dy, axis=-2, keepdims=True),
            )

        return tf.matmul(h, kernel) + bias, grad

    return dense(h, kernel, bias)


def cross_entropy(logits, y):
    """Softmax cross-entropy per example, its sum over classes by `ordered_sum`. The max
    is order-free, and stopping its gradient changes nothing: the loss does not depend
    on the shift."""
    import tensorflow as tf

    shifted = logits - tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
    total = ordered_sum(tf.exp(shifted), axis=-1)
    return tf.math.log(total) - tf.gather(shifted, y, batch_dims=2)


def ordered_sum(x, axis: int, keepdims: bool = False):
    """Sum over a static axis as a tree of elementwise adds: one order for every K. Each
    level adds the first half to the second (an odd one out passes on as it is)."""
    import tensorflow as tf

    axis = axis % len(x.shape)
    while (n := x.shape[axis]) > 1:
        half = n // 2
        head, tail, *odd = tf.split(x, [half, half] + [1] * (n % 2), axis)
        x = tf.concat([head + tail, *odd], axis) if odd else head + tail
    return x if keepdims else tf.squeeze(x, axis)


def exact_sums(parts: list[np.ndarray]) -> list[float]:
    """Per row, the sum of its values across `parts` (arrays of shape (rows, m), in order),
    exactly rounded (math.fsum): the same whatever the parts, so an evaluation's sums do
    not depend on how many runs share it or how many images a call holds. (float64 sums
    added call after call are not: with per-example losses spread over many orders of
    magnitude they changed in the last bit; tests/test_fused.py.)"""
    rows = np.concatenate(parts, axis=1).astype(np.float64)
    return [math.fsum(row.tolist()) for row in rows]


def stacked(variables) -> np.ndarray:
    """The runs' values of one variable as one array; a bias (n,) is stacked as (1, n), to
    broadcast over the batch."""
    return np.stack([v.numpy()[None, :] if len(v.shape) == 1 else v.numpy() for v in variables])
