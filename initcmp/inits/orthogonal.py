"""A random orthogonal matrix with the same bits on every machine.

Keras' `Orthogonal` draws a normal matrix and orthogonalises it with the backend's QR
(TensorFlow: Eigen's blocked Householder QR in float32). That QR's matrix products are
blocked by sizes Eigen derives from the CPU's cache sizes, so the order of its float32
sums, and the last bits of Q, depend on the processor: an orthogonal kernel, and the
LSUV start built on it, differed between two AMD EPYC generations (32 KiB and 48 KiB L1
data caches) while every other initializer gave the same bits.

`OrthogonalInitializer` draws the same normal matrix as Keras (the same seed and shape,
so the same values) and computes Q with `householder_q`: Householder QR in float64 in a
fixed order of elementwise operations (numpy's elementwise ufuncs are correctly rounded
whatever SIMD they use), with 1-D sums by `math.fsum` (exactly rounded, so in no order)
and column sums by `np.add.reduce(..., axis=0)`, which adds the rows one after another.
Q is then rounded once to float32. Q's columns are signed so that R's diagonal is
positive, as Keras does, which makes Q the unique thin Q of the matrix: the weights
agree with Keras' to within float32 rounding, and with each other on every machine.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def householder_q(a: np.ndarray) -> np.ndarray:
    """The thin Q (m x n, m >= n) of `a`'s QR with R's diagonal positive, in float64.

    Each reflector H_j = I - tau v v^T zeroes column j below the diagonal; Q is their
    product applied to the first n columns of the identity, last reflector first.
    """
    a = np.array(a, dtype=np.float64)
    m, n = a.shape
    if m < n:
        raise ValueError(f"householder_q needs rows >= columns, got {a.shape}")
    reflectors = []
    signs = np.empty(n)
    for j in range(n):
        x = a[j:, j]
        norm = math.sqrt(math.fsum((x * x).tolist()))
        r_jj = -norm if x[0] >= 0 else norm  # the sign that avoids cancellation in v[0]
        v = x.copy()
        v[0] -= r_jj
        v_norm2 = math.fsum((v * v).tolist())
        tau = 0.0 if v_norm2 == 0 else 2.0 / v_norm2
        _reflect(a[j:, j + 1 :], v, tau)
        reflectors.append((v, tau))
        signs[j] = -1.0 if r_jj < 0 else 1.0
    q = np.eye(m, n)
    for j in reversed(range(n)):
        _reflect(q[j:, j:], *reflectors[j])
    return q * signs  # column j times sign(R_jj): R's diagonal becomes positive


def _reflect(block: np.ndarray, v: np.ndarray, tau: float) -> None:
    """block <- (I - tau v v^T) block, in place. v^T block is summed row after row
    (`np.add.reduce` along axis 0 of a row-major array), a fixed order."""
    if block.shape[1] == 0:
        return
    w = np.add.reduce(v[:, None] * block, axis=0)
    block -= np.multiply.outer(v, w * tau)


def orthogonal(normal: np.ndarray, gain: float) -> np.ndarray:
    """Keras' Orthogonal recipe on a drawn (max, min) normal matrix: Q with R's diagonal
    positive, transposed when the kernel is wider than tall, times `gain` in float32."""
    q = householder_q(normal).astype(np.float32)
    return np.float32(gain) * q


def initializer(gain: float, seed: int):
    """A Keras initializer: Keras' Orthogonal with its QR replaced by `householder_q`."""
    return _initializer_class()(gain=gain, seed=seed)


@functools.cache
def _initializer_class():
    import keras  # deferred: importing initcmp must not import TensorFlow

    class OrthogonalInitializer(keras.initializers.Orthogonal):
        def __call__(self, shape, dtype=None):
            if len(shape) != 2:
                raise ValueError(f"an orthogonal kernel is two-dimensional, got {shape}")
            rows, cols = shape
            # The same draw as keras.initializers.Orthogonal: its seed, its flat shape.
            normal = keras.random.normal((max(rows, cols), min(rows, cols)), seed=self.seed)
            q = orthogonal(keras.ops.convert_to_numpy(normal), self.gain)
            return keras.ops.convert_to_tensor(q.T if rows < cols else q, dtype=dtype)

    return OrthogonalInitializer
