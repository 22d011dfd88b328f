"""The orthogonal start: Keras' Orthogonal recipe with a QR whose bits do not depend
on the machine (initcmp/inits/orthogonal.py)."""

from __future__ import annotations

import numpy as np
import pytest

from initcmp.inits import orthogonal


@pytest.mark.parametrize("shape", [(784, 256), (256, 256), (256, 10), (5, 1)])
def test_householder_q_is_the_qr_with_positive_diagonal(shape):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    q = orthogonal.householder_q(a)
    np.testing.assert_allclose(q.T @ q, np.eye(shape[1]), atol=1e-13)
    r = q.T @ a.astype(np.float64)
    assert (np.diag(r) > 0).all()
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-12)  # R is upper triangular
    want, r_ref = np.linalg.qr(a.astype(np.float64))
    np.testing.assert_allclose(q, want * np.sign(np.diag(r_ref)), atol=1e-12)


def test_householder_q_refuses_a_wide_matrix():
    with pytest.raises(ValueError, match="rows >= columns"):
        orthogonal.householder_q(np.ones((2, 3)))


def test_column_sums_add_the_rows_in_order():
    """The one reduction householder_q leaves to numpy: `np.add.reduce` along axis 0 of a
    row-major array adds row after row, the order a plain loop has; pairwise or blocked
    sums would differ from it in the last bits for this data."""
    rng = np.random.default_rng(1)
    block = rng.standard_normal((784, 300)) * np.exp(rng.uniform(-20, 20, (784, 1)))
    in_order = np.zeros(300)
    for row in block:
        in_order = in_order + row
    assert np.array_equal(np.add.reduce(block, axis=0), in_order)
    assert not np.array_equal(np.sum(block.T.copy(), axis=1), in_order)  # pairwise differs


def test_the_same_kernel_as_keras_to_float32_rounding():
    import keras

    for shape in [(784, 256), (10, 256)]:  # tall, and wide (transposed)
        ours = orthogonal.initializer(1.5, 7)(shape).numpy()
        theirs = keras.initializers.Orthogonal(gain=1.5, seed=7)(shape).numpy()
        assert ours.dtype == np.float32 and ours.shape == shape
        np.testing.assert_allclose(ours, theirs, atol=2e-6)
        assert not np.array_equal(ours, theirs)  # Keras' float32 QR rounds differently
