"""The epoch order, and the one pixel scaling that probes and training steps share."""

from __future__ import annotations

import numpy as np
import pytest

from initcmp.engine import batches
from initcmp.data import sources


def test_epoch_order():
    n = 1000
    order = batches.epoch_order(n, seed=0, epoch=0)
    assert order.shape == (n,)
    assert np.array_equal(np.sort(order), np.arange(n))
    assert np.array_equal(order, batches.epoch_order(n, seed=0, epoch=0))
    assert not np.array_equal(order, np.arange(n))
    others = [batches.epoch_order(n, seed=s, epoch=e) for s, e in [(0, 1), (0, 2), (1, 0), (2, 0)]]
    for other in others:
        assert np.array_equal(np.sort(other), np.arange(n))
        assert not np.array_equal(order, other)
    assert not np.array_equal(others[0], others[2])  # (0, 1) vs (1, 0)


def test_scale_pixels_is_float32_division_by_255():
    x = np.arange(256, dtype=np.float32)  # every pixel value
    scaled = batches.scale_pixels(x)
    assert scaled.dtype == np.float32
    assert np.array_equal(scaled.view(np.uint32), (x / np.float32(255.0)).view(np.uint32))
    assert scaled[0] == 0.0 and scaled[255] == 1.0


def test_scale_pixels_same_bits_in_tensorflow():
    import tensorflow as tf

    x = np.arange(256, dtype=np.float32)
    from_tf = batches.scale_pixels(tf.constant(x)).numpy()
    assert from_tf.dtype == np.float32
    assert np.array_equal(from_tf.view(np.uint32), batches.scale_pixels(x).view(np.uint32))


def test_first_rows():
    tiny_syn = sources.synthetic(n_train=300, n_test=10)
    x, y = batches.first_rows(tiny_syn, seed=3, n=50)
    rows = batches.epoch_order(300, 3, 0)[:50]
    assert x.dtype == np.float32 and x.shape == (50, 28, 28)
    assert y.dtype == np.int32 and np.array_equal(y, tiny_syn.y_train[rows])
    expected = tiny_syn.x_train[rows].astype(np.float32) / np.float32(255.0)
    assert np.array_equal(x.view(np.uint32), expected.view(np.uint32))


def test_pad():
    idx, count = batches.pad(np.array([[5, 6, 7]]), 5)
    assert idx.dtype == np.int32 and idx.tolist() == [[5, 6, 7, 0, 0]]
    assert count == 3 and count.dtype == np.int32


@pytest.mark.parametrize(
    "n, batch_size, skip, lengths",
    [(1000, 7, 0, [5, 5, 133]), (1000, 7, 70, [1, 4, 68]), (300, 128, 1, [2]), (300, 128, 0, [1])],
)
def test_epoch_blocks_are_each_runs_order_in_padded_batches(n, batch_size, skip, lengths):
    """Block after block, the same batches as slicing each run's order, from any batch
    `skip`; the last batch of the epoch padded with row 0 and its count the real rows;
    the rows of a block past its steps all zero."""
    orders = np.stack([batches.epoch_order(n, seed, 0) for seed in range(3)])
    got = list(batches.epoch_blocks(orders, batch_size, skip, lengths, max(lengths) + 1))
    assert [int(steps) for _, _, steps in got] == lengths
    start = skip * batch_size
    for idx, counts, steps in got:
        idx, counts, steps = idx.numpy(), counts.numpy(), int(steps)
        assert idx.dtype == counts.dtype == np.int32 and idx.shape[1:] == (3, batch_size)
        assert not idx[steps:].any() and not counts[steps:].any()
        for batch, count in zip(idx[:steps], counts[:steps]):
            real = orders[:, start : start + batch_size]
            assert count == real.shape[1] and np.array_equal(batch[:, :count], real)
            assert not batch[:, count:].any()
            start += batch_size
