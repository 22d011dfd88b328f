"""The epoch order and its batches, and the one place pixels become floats in [0, 1].

Importing this module does not import TensorFlow; `epoch_blocks` does, when called.

`scale_pixels` is THE pixel scaling: `first_rows` (the probe, LSUV and diagnose batches)
and the compiled training and evaluation step in engine/fused.py use this same function, so the
images a probe sees are bit for bit the ones a training step sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from initcmp.data.sources import Dataset

# The largest uint8 pixel: scale_pixels maps 0..PIXEL_MAX to [0, 1].
PIXEL_MAX = 255.0


def scale_pixels(x):
    """Pixels, already cast to float32, to [0, 1]: `x / 255.0`, still float32.

    The same code for a numpy float32 array and a TensorFlow float32 tensor (inside the
    compiled step in engine/fused.py too). The Python float 255.0 is a weak scalar in both
    (numpy 2, NEP 50), so the division is done in float32: for every pixel 0..255 it gives
    exactly the bits of `x / np.float32(255.0)` (tests/test_batches.py checks this).
    """
    return x / PIXEL_MAX


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The training order of one epoch, a function of (seed, epoch) only.

    Runs with the same seed see the same order whatever their initializer (a paired
    design), and a resumed run recomputes it instead of checkpointing a shuffle buffer.
    """
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)


def first_rows(dataset: Dataset, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` training images a run with `seed` sees (its first epoch's order), as
    float32 in [0, 1] like the training step makes them, with their labels."""
    rows = epoch_order(len(dataset.y_train), seed, 0)[:n]
    x = scale_pixels(dataset.x_train[rows].astype(np.float32))
    return x, dataset.y_train[rows].astype(np.int32)


def epoch_blocks(orders: np.ndarray, batch_size: int, skip: int, lengths: list[int], size: int):
    """One epoch of index batches for K runs at once, from batch `skip`, in blocks of
    consecutive steps: one block per compiled call (fused.StackedRuns.train_steps).

    `orders` is (K, N): each run's `epoch_order`. `lengths`: the steps of each block, in
    order (train.block_lengths), each at most `size`. Yields (idx, counts, n): idx
    (size, K, batch_size) int32 rows of the training set, counts (size,) how many rows
    of each batch are real, n the block's steps; rows past n are zeros, never trained.
    The last, smaller batch of the epoch is padded (see engine/fused.py), so every example is
    used and every step has one shape. The images themselves are gathered inside the
    compiled step, never copied per epoch.
    """
    import tensorflow as tf

    k, n = orders.shape
    steps = -(-n // batch_size)
    padded, _ = pad(orders, steps * batch_size)
    idx = padded.reshape(k, steps, batch_size).transpose(1, 0, 2)
    counts = np.minimum(batch_size, n - np.arange(steps) * batch_size).astype(np.int32)
    block_idx = np.zeros((len(lengths), size, k, batch_size), np.int32)
    block_counts = np.zeros((len(lengths), size), np.int32)
    ends = skip + np.cumsum(lengths, dtype=int)
    for b, (end, length) in enumerate(zip(ends, lengths)):
        block_idx[b, :length] = idx[end - length : end]
        block_counts[b, :length] = counts[end - length : end]
    return tf.data.Dataset.from_tensor_slices(
        (block_idx, block_counts, np.array(lengths, np.int32))
    ).prefetch(2)


def pad(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.int32]:
    """Indices padded at the end with 0 to `size` along the last axis, as int32, and the
    count of real ones: the compiled steps mask the padding out (engine/fused.py)."""
    count = rows.shape[-1]
    padding = [(0, 0)] * (rows.ndim - 1) + [(0, size - count)]
    return np.pad(rows, padding).astype(np.int32), np.int32(count)
