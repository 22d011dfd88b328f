"""The fused engine: K runs of the same shape trained as one stacked model.

`Engine.stacks` decides which runs train together; a `StackedRuns` trains them. Every run keeps
its own Keras model and optimizer (engine/models.py): they are what its checkpoint holds and
what `initcmp eval` restores. A `StackedRuns` trains stacked copies of them: each kernel
becomes a (K, fan_in, fan_out) variable and each bias (K, 1, fan_out), so one
XLA-compiled step reads one (K, batch) gather of images, does K forward and backward
passes as batched matmuls, and one elementwise optimizer update for all K. A run
trained alone is a stack of one, through the same code.

Why a run gives the same bits alone and fused: under XLA, a slice of a batched matmul
and every elementwise op give the same result whatever K is. XLA's reductions are not:
it sums a (1, B, n) tensor over B in a different order from a (K, B, n) one. So the two
sums inside the step, the bias gradient over the batch and the softmax over classes,
are written as trees of elementwise adds (`ordered_sum`), and the evaluation's sums
over the test set are taken on the host. One case is left: with a curved activation
(tanh, ...) XLA compiles a stack of one differently from a stack of two or more, so a
lone run with one trains beside a copy of itself (`EXACT_ALONE`). tests/test_fused.py
trains runs alone and fused and compares every weight.

Every step has the configured batch size: the last, smaller batch of an epoch is padded
with rows that are masked out of the loss (one compiled shape, not two), and so is the
last evaluation chunk. One call trains up to BLOCK_STEPS steps in an XLA while loop.
"""

from __future__ import annotations

import gc
import math

import numpy as np

from initcmp.engine import batches
from initcmp.engine import models
from initcmp.config.schema import Config, to_dict

# The engine's limits, the defaults of `Engine` (benchmarks/ measures each: docs/performance.md).
# Most runs in one stack; a larger group is cut into equal stacks.
MAX_RUNS = 16
# Most rows (run x image) one evaluation call holds: it changes memory, not results.
EVAL_ROWS = 10_000
# Most training steps one compiled call runs (engine/train.py ends a call where a stage
# is due).
BLOCK_STEPS = 16

# Activations with which a stack of one gives the same bits as a slice of a larger stack.
# With curved ones (tanh, sigmoid, ...) XLA fuses a stack of one differently and the last
# bits change, so a lone run with them trains beside a copy of itself (twice the
# arithmetic, the same numbers as fused; tests/test_fused.py checks both kinds).
EXACT_ALONE = ("relu", "linear")


def slots(cfg: Config, runs: int) -> int:
    """A stack's leading dimension for `runs` runs of `cfg`'s shape: one per run, and a
    twin for a lone run with a curved activation (EXACT_ALONE)."""
    return runs + (runs == 1 and cfg.model.activation not in EXACT_ALONE)


def fusible_key(cfg: Config) -> str:
    """Everything but init and seed: runs that agree on it can train in one stack."""
    return repr({k: v for k, v in to_dict(cfg).items() if k not in ("init", "seed")})


class Engine:
    """The fused engine as its caller holds it: its limits, and what it keeps from one
    stack to the next. One per experiment (experiments/launch.py makes one for all of a
    comparison's or a sweep's stacks); `train.run_many` given none uses the process's
    own (`Engine.default()`), so that runs trained by successive calls (`initcmp.train`
    in a notebook, a test's runs alone) share its last stack as a call's runs do.

    It keeps the last stack it built, which runs of its shape reuse: runs trained one by
    one, and a sweep's stacks of one shape in turn, so share one traced and compiled
    program, the same bits (XLA keeps every program it ran until the process ends). And
    it keeps the dataset as TensorFlow constants, made once per dataset.
    """

    def __init__(
        self, max_runs: int = MAX_RUNS, block_steps: int = BLOCK_STEPS, eval_rows: int = EVAL_ROWS
    ):
        self.max_runs, self.block_steps, self.eval_rows = max_runs, block_steps, eval_rows
        self._last: StackedRuns | None = None
        self._data: tuple = (None, None)  # the last dataset given, and its tensors

    _default: "Engine | None" = None

    @classmethod
    def default(cls) -> "Engine":
        """The engine of callers that hold none, one per process, with the default limits."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    def stacks(self, items: list, fuse: bool, config=lambda item: item, start=lambda item: 0):
        """THE rule for which runs train together, wherever runs are grouped (the
        launcher, `train.run_many`, the memory estimate): with `fuse`, the items whose
        `config` agrees but for init and seed and that stand at one `start` step, in
        first-seen order, each group cut into as few stacks of at most `max_runs` as it
        can, of equal size (25 runs: 13 and 12); without, one item per stack."""
        if not fuse:
            return [[item] for item in items]
        by_key: dict = {}
        for item in items:
            by_key.setdefault((start(item), fusible_key(config(item))), []).append(item)
        out = []
        for group in by_key.values():
            size = math.ceil(len(group) / math.ceil(len(group) / self.max_runs))
            out += [group[i : i + size] for i in range(0, len(group), size)]
        return out

    def stack(self, cfg: Config, members: list, dataset) -> StackedRuns:
        """A stack for `members` (the caller loads their state into it): the last one
        built if they have its shape, else a new one (the last one goes first)."""
        last, shape = self._last, (fusible_key(cfg), len(members))
        if last is None or last.shape != shape or last.dataset is not dataset:
            if last is not None:
                self._last = last = None
                gc.collect()
            last = self._last = StackedRuns(cfg, members, dataset, self)
        last.own(members)
        return last

    def tensors(self, dataset) -> tuple:
        """The dataset as TensorFlow constants, images flattened to (N, 784) uint8,
        shared by every stack that trains on it."""
        import tensorflow as tf

        if self._data[0] is not dataset:
            x_train, x_test = (x.reshape(len(x), -1) for x in (dataset.x_train, dataset.x_test))
            tensors = tuple(map(tf.constant, (x_train, x_test, dataset.y_train, dataset.y_test)))
            self._data = (dataset, tensors)
        return self._data[1]


class StackedRuns:
    def __init__(self, cfg: Config, members: list, dataset, engine: Engine | None = None):
        """`members`: (Keras model, optimizer) of each run, built from configs that differ
        only in `init` and `seed` (so the shapes and the optimizer agree); `engine`: whose
        limits and dataset tensors it uses (a new Engine's if None)."""
        import keras
        import tensorflow as tf

        engine = engine or Engine()
        self.k = len(members)  # the runs
        self.shape, self.dataset = (fusible_key(cfg), self.k), dataset  # what Engine reuses
        self._slots = slots(cfg, self.k)  # the stack's leading dimension
        self.twin = self._slots > self.k  # a lone run beside a twin of itself (EXACT_ALONE)
        self.eval_rows = engine.eval_rows
        self.eval_batch_size = cfg.eval.batch_size
        self.train_images = min(cfg.eval.train_images, len(dataset.y_train))
        self._activation = keras.activations.get(cfg.model.activation)
        # Each layer's forward multiplier (model.parametrization; 1: none applied).
        self._multipliers = [s.multiplier for s in cfg.layer_scalings()]
        # Images flattened to (N, 784) uint8, labels (N,): gathered inside the steps.
        self._x_train, self._x_test, self._y_train, self._y_test = engine.tensors(dataset)
        self.own(members)
        owned = zip(*[m.trainable_variables for m, _ in self._owners])  # k0, b0, k1, ...
        self.variables = [
            tf.Variable(stack_values(v), name=f"stacked_{i}") for i, v in enumerate(owned)
        ]
        self.optimizer = models.build_optimizer(cfg)
        self.optimizer.build(self.variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        # Per run: running sums of train loss, accuracy and steps since the last log point.
        self.sums = tf.Variable(tf.zeros((self._slots, 3), tf.float64), trainable=False)
        self._host_copy = None  # (step, weights, optimizer state) as numpy: _host()
        # The images go in as arguments, not captured: a captured constant would be
        # compiled into each stack's program, and XLA keeps every program it compiled
        # for the life of the process (tens of MB a stack, on MNIST, in a sweep).
        self._steps = tf.function(self._train_steps, jit_compile=True, autograph=False)
        self._chunk = tf.function(self._losses_and_hits, jit_compile=True, autograph=False)

    # --- moving state between the runs' own objects and the stack -------------------
    def own(self, members: list) -> None:
        """The runs whose state `load` and `store` move: the run that owns each slot."""
        self._owners = members * (1 + self.twin)

    def _optimizer_pairs(self):
        return zip(self.optimizer.variables, *[o.variables for _, o in self._owners])

    def load(self, step: int, sums: np.ndarray | None = None) -> None:
        """Copy the runs' weights and optimizer state (restored or fresh) into the stack,
        with the step and, per run, the running train sums (K, 3)."""
        for stacked, *own in zip(self.variables, *[m.trainable_variables for m, _ in self._owners]):
            stacked.assign(stack_values(own))
        for stacked, *own in self._optimizer_pairs():
            if tuple(stacked.shape) == tuple(own[0].shape):  # scalars: iterations, rate
                stacked.assign(own[0])
            else:
                stacked.assign(stack_values(own))
        self.step.assign(step)
        self._host_copy = None
        if sums is not None:
            self.sums.assign(np.concatenate([sums] * (1 + self.twin)))

    def store(self, index: int) -> None:
        """Copy run `index`'s slice of the stack back into its model and optimizer."""
        model, optimizer = self._owners[index]
        weights, slots = self._host()
        for value, own in zip(weights, model.trainable_variables):
            own.assign(np.reshape(value[index], own.shape))
        for value, own in zip(slots, optimizer.variables):
            own.assign(
                np.reshape(value if value.shape == tuple(own.shape) else value[index], own.shape)
            )

    def _host(self) -> tuple[list, list]:
        """The stack's weights and optimizer state as numpy, read once per step for all the
        runs that store it (one device read per variable rather than one per run)."""
        step = int(self.step.numpy())
        if self._host_copy is None or self._host_copy[0] != step:
            self._host_copy = (
                step,
                [v.numpy() for v in self.variables],
                [v.numpy() for v in self.optimizer.variables],
            )
        return self._host_copy[1], self._host_copy[2]

    # --- the math ---------------------------------------------------------------------

    def _logits(self, x):
        """x: (K, B, 784) floats in [0, 1]."""
        h, pairs = x, list(zip(self.variables[0::2], self.variables[1::2]))
        for i, (kernel, bias) in enumerate(pairs):
            h = dense(h, kernel, bias, self._multipliers[i])
            if i < len(pairs) - 1:
                h = self._activation(h)
        return h

    def _per_run(self, logits, y, mask, count):
        """Per run: mean cross-entropy and accuracy over the unmasked rows, shape (K,)."""
        import tensorflow as tf

        losses = cross_entropy(logits, y)
        hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), y), tf.float32)
        zero = tf.zeros_like(losses)
        return (
            tf.reduce_sum(tf.where(mask, losses, zero), axis=1) / count,
            tf.reduce_sum(tf.where(mask, hits, zero), axis=1) / count,
        )

    def _batch(self, x_all, y_all, idx, count):
        import tensorflow as tf

        x = batches.scale_pixels(tf.cast(tf.gather(x_all, idx), tf.float32))
        x = tf.reshape(x, tf.concat([tf.shape(idx), [-1]], 0))
        mask = tf.range(tf.shape(idx)[-1]) < count
        return x, tf.cast(tf.gather(y_all, idx), tf.int32), mask

    def train_steps(self, idx, counts, n) -> None:
        """n training steps of every run in one call: idx (BLOCK_STEPS, K, B) training-set
        rows, padded; counts (BLOCK_STEPS,): the real ones (batches.epoch_blocks)."""
        import tensorflow as tf

        n = tf.convert_to_tensor(n, tf.int32)  # as a tensor: a new n is not a new trace
        self._steps(self._x_train, self._y_train, idx, counts, n)

    def _train_steps(self, x_all, y_all, idx, counts, n):
        import tensorflow as tf

        def step(i):
            self._train_step(x_all, y_all, idx[i], counts[i])
            return (i + 1,)

        tf.while_loop(lambda i: i < n, step, (tf.constant(0),))

    def _train_step(self, x_all, y_all, idx, count):
        """idx: (K, B) training-set rows, padded; count: how many are real."""
        import tensorflow as tf

        if self.twin:
            idx = tf.concat([idx, idx], 0)
        x, y, mask = self._batch(x_all, y_all, idx, count)
        n = tf.cast(count, tf.float32)
        with tf.GradientTape() as tape:
            logits = self._logits(x)
            loss, accuracy = self._per_run(logits, y, mask, n)
            total = tf.reduce_sum(loss)  # each run's gradient is its own loss's gradient
        grads = tape.gradient(total, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        # Weights, step and sums change in one call: a Ctrl-C between calls can never
        # save weights and counters that disagree.
        self.step.assign_add(1)
        self.sums.assign_add(
            tf.cast(tf.stack([loss, accuracy, tf.ones_like(loss)], axis=1), tf.float64)
        )

    def evaluate_chunk(self, idx):
        """idx: (K, B) test-set rows, the same for every run, tiled on the host (XLA makes
        a broadcast one wide matmul, not bit-identical): per-example loss and hits, (K, B)."""
        return self._chunk(self._x_test, self._y_test, idx)

    def evaluate_train_chunk(self, idx):  # the same for training-set rows
        return self._chunk(self._x_train, self._y_train, idx)

    def _losses_and_hits(self, x_all, y_all, idx):
        import tensorflow as tf

        x, y, _ = self._batch(x_all, y_all, idx, 0)
        logits = self._logits(x)
        return cross_entropy(logits, y), tf.equal(
            tf.argmax(logits, axis=-1, output_type=tf.int32), y
        )

    def evaluate(self) -> list[dict]:
        """Test loss and accuracy of every run of the stack, and with eval.train_images
        the same on the first training images (`train_set_loss`, `train_set_accuracy`).
        The sums are taken here, exactly (exact_sums), because XLA's in-graph
        sum over a long axis is not the same for K = 1 as for K > 1."""
        sets = [("test", self.evaluate_chunk, int(self._y_test.shape[0]))]
        if self.train_images:
            sets.append(("train_set", self.evaluate_train_chunk, self.train_images))
        out = [{} for _ in range(self.k)]
        for prefix, chunk, n in sets:  # in chunks of one padded shape per set
            size = chunk_images(n, self.eval_batch_size, self._slots, self.eval_rows)
            loss, hits = self._sums(chunk, n, size)
            for i in range(self.k):
                out[i].update({f"{prefix}_loss": loss[i] / n, f"{prefix}_accuracy": hits[i] / n})
        return out

    def _sums(self, chunk, n: int, size: int) -> tuple[list[float], list[float]]:
        """Per slot, the summed loss and hits of rows 0..n-1, in chunks of `size`."""
        losses, hits = [], []
        for start in range(0, n, size):
            idx, count = batches.pad(np.arange(start, min(n, start + size)), size)
            chunk_loss, chunk_hits = chunk(np.tile(idx, (self._slots, 1)))
            losses.append(chunk_loss.numpy()[:, :count])
            hits.append(chunk_hits.numpy()[:, :count])
        return exact_sums(losses), exact_sums(hits)

    def read_sums(self, reset: bool = True) -> np.ndarray:
        """(K, 3) running sums of loss, accuracy, steps; then reset them."""
        sums = self.sums.numpy()
        if reset:
            self.sums.assign(np.zeros_like(sums))
        return sums[: self.k]


def chunk_images(n: int, batch_size: int, slots: int, rows: int = EVAL_ROWS) -> int:
    """Images per evaluation call of n images for a stack of `slots`: at most
    eval.batch_size, at most `rows` rows in all, in equal calls (little padding)."""
    calls = max(math.ceil(n / batch_size), math.ceil(n * slots / rows))
    return math.ceil(n / calls)


# --- The exact math of a stack: the same bits for any number of runs (module docstring) ---


def dense(h, kernel, bias, multiplier: float = 1.0):
    """h @ kernel + bias, with the bias gradient summed by `ordered_sum` (module docstring);
    with a forward multiplier (model.parametrization) multiplier * (h @ kernel) + bias,
    its gradients through the product multiplied elementwise, so any K gives the same bits.
    A multiplier of 1 is not applied at all: a standard stack's arithmetic is unchanged."""
    import tensorflow as tf

    @tf.custom_gradient
    def dense(h, kernel, bias):
        def grad(dy):
            dz = dy if multiplier == 1.0 else dy * multiplier
            return (
                tf.matmul(dz, kernel, transpose_b=True),
                tf.matmul(h, dz, transpose_a=True),
                ordered_sum(dy, axis=-2, keepdims=True),
            )

        z = tf.matmul(h, kernel)
        return (z if multiplier == 1.0 else z * multiplier) + bias, grad

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


def stack_values(variables) -> np.ndarray:
    """The runs' values of one variable as one array; a bias (n,) is stacked as (1, n), to
    broadcast over the batch."""
    return np.stack([v.numpy()[None, :] if len(v.shape) == 1 else v.numpy() for v in variables])
