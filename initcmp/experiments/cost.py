"""What a set of runs costs before any of it is trained: its training steps, its arithmetic
(floating-point operations of training and of evaluation) and the memory of its largest
stack, counted from the configs alone (no TensorFlow, no data read), and a time derived
from the arithmetic and this machine's measured matmul rate.

The count is exact for the layers' matrix products, which are all but a few percent of an
MLP's arithmetic: a training step of batch b through kernels of a x c entries is
6·b·Σ a·c operations (forward 2, backward 4), an evaluation of n images 2·n·Σ a·c. The
time is a guide, not a promise: small networks spend most of a step outside the matrix
products, and a stack of many small runs keeps the cores busier than one run does.

A huge grid is not enumerated: past SAMPLE cells the cost is the mean of SAMPLE cells
drawn evenly through the grid, times the number of cells, so a sweep of a million cells
is sized in well under a second.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from functools import cache

import numpy as np

from initcmp.config.schema import IMAGE_PIXELS, Config
from initcmp.data import sources
from initcmp.engine import fused, memory

# The fraction of the measured matmul rate (`matmul_rate`) that a whole sweep reaches,
# start-up included, on a 2-core AMD EPYC (Zen 5) whose numpy 512 x 512 float32 product
# runs at about 220 GFLOP/s (docs/science/schoenholz-2017.md): `initcmp sweep --config
# edge_of_chaos` (130 runs of width 100, 2.05e13 operations) took 180-199 s in one
# process, 0.47-0.52 of it;
# `--config he_depth` (48 runs of width 256, 6.50e13) took 253 s, 1.17 of it (TensorFlow's
# kernels beat numpy's at those shapes). Between the two: the estimate is within 1.5x of
# either, short for the narrow nets and long for the wide.
EFFICIENCY = 0.75
# Cells beyond which a grid is sized from an even sample of its cells.
SAMPLE = 2_000


@dataclass(frozen=True)
class Cost:
    """The size of some training: runs, steps, operations, the largest stack's bytes."""

    runs: int
    steps: int
    flops: float
    peak_bytes: float

    def seconds(self, rate: float | None = None) -> float:
        """The estimated training time at `rate` (operations per second; default this
        machine's measured matmul rate times EFFICIENCY)."""
        return self.flops / (rate or EFFICIENCY * matmul_rate())

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.runs + other.runs,
            self.steps + other.steps,
            self.flops + other.flops,
            max(self.peak_bytes, other.peak_bytes),
        )


def of_run(cfg: Config, stack: int = 1) -> Cost:
    """One run's cost; `stack` runs of its shape trained together set the memory: each
    run's own state and its slice of the stack, a step's activations, the images."""
    w = cfg.model.widths()
    weights = cfg.model.weights()
    full_train, test_size = sources.SIZES[cfg.data.name]
    train_size = cfg.data.train_limit or full_train
    steps = cfg.train.total_steps(train_size)
    epochs = math.ceil(steps * cfg.train.batch_size / train_size)
    every = cfg.eval.every_steps
    evaluations = epochs + (steps // every if every else 0) + cfg.eval.at_start
    images = test_size + cfg.eval.train_images
    flops = 6 * cfg.train.batch_size * weights * steps + 2 * images * weights * evaluations
    k = fused.slots(cfg, stack)
    step = cfg.train.batch_size * sum(w) * memory.FLOAT  # activations kept for backprop
    data = (train_size + test_size) * IMAGE_PIXELS  # uint8 images
    peak = stack * memory.state(cfg) + k * (memory.state(cfg) + step) + data + memory.WORKING
    return Cost(1, steps, float(flops), float(peak))


def of_runs(cfgs: list[Config], stack: int = 1) -> Cost:
    costs = [of_run(c, stack) for c in cfgs]
    return sum(costs[1:], costs[0]) if costs else Cost(0, 0, 0.0, 0.0)


def of_sweep(cells: list[Config], count: int, seeds: int) -> Cost:
    """A sweep of `count` cells of `seeds` runs each, from `cells` (every cell's config,
    or an even sample of them: see `sample`); its largest stack is at most
    fused.MAX_RUNS runs."""
    one = of_runs(cells, min(count * seeds, fused.MAX_RUNS))
    scale = count / len(cells) * seeds
    return Cost(count * seeds, round(one.steps * scale), one.flops * scale, one.peak_bytes)


def sample(grid: dict, limit: int = SAMPLE) -> list[dict]:
    """Every cell of `grid` ({key: values}) in order, or `limit` of them evenly spread
    through that order when there are more: {key: value} each."""
    keys, axes = list(grid), list(grid.values())
    count = math.prod(len(a) for a in axes)
    if count <= limit:
        return [dict(zip(keys, values)) for values in itertools.product(*axes)]
    picks = np.linspace(0, count - 1, limit).round().astype(np.int64)
    cells = []
    for index in picks:  # mixed-radix digits of the cell's index, last key fastest
        values, rest = [], int(index)
        for axis in reversed(axes):
            rest, digit = divmod(rest, len(axis))
            values.append(axis[digit])
        cells.append(dict(zip(keys, reversed(values))))
    return cells


@cache
def matmul_rate() -> float:
    """This machine's float32 matrix-product rate (operations per second): the fastest of
    repeated 512 x 512 products by numpy over about 50 ms, once per process (the fastest,
    not the mean, so that a busy moment does not read as a slow machine)."""
    a = np.random.default_rng(0).standard_normal((512, 512), dtype=np.float32)
    a @ a  # warm up the library's threads
    best, start = math.inf, time.perf_counter()
    while time.perf_counter() - start < 0.05:
        tick = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - tick)
    return 2 * 512**3 / best
