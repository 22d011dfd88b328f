"""`initcmp sweep --config edge_of_chaos` as a JAX user would write it: for each depth
(10 to 100 in tens), the 13 scales' (σ_w² from 1 to 4 in quarters) parameters stacked,
`vmap` over them inside one jitted `lax.scan` over the 300 plain SGD steps (learning
rate 0.001, batch 128), tanh layers of width 100, W ~ N(0, σ_w²/fan_in) and
b ~ N(0, 0.05); test accuracy and accuracy on the first 2,000 training images evaluated
once at the end. The same MNIST as initcmp (its cache), pixels / 255. A whole process,
timed by `make bench` (benchmarks/peers.py) beside `initcmp sweep`.

    python benchmarks/peers/jax_sweep.py [--depths 10,20,...] [--steps 300]

Prints one JSON line: seconds (data loaded to the last accuracy), and each cell's test
and train-set accuracy.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from initcmp.config.schema import DataConfig
from initcmp.data import sources

WIDTH, BATCH, LR, BIAS_VARIANCE, TRAIN_IMAGES = 100, 128, 1e-3, 0.05, 2000
SCALES = tuple(1 + 0.25 * i for i in range(13))


def init_params(key, depth: int, scale: float):
    sizes = [784] + [WIDTH] * depth + [10]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        key, wkey, bkey = jax.random.split(key, 3)
        w = jax.random.normal(wkey, (fan_in, fan_out)) * jnp.sqrt(scale / fan_in)
        b = jax.random.normal(bkey, (fan_out,)) * jnp.sqrt(BIAS_VARIANCE)
        params.append((w, b))
    return params


def logits(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = jnp.tanh(x)
    return x


def loss_fn(params, x, y):
    out = logits(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(out), y[:, None], axis=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--depths", default=",".join(str(d) for d in range(10, 101, 10)))
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    mnist = sources.load(DataConfig())
    start = time.perf_counter()
    x = jnp.asarray(mnist.x_train.reshape(len(mnist.x_train), -1), jnp.float32) / 255.0
    y = jnp.asarray(mnist.y_train, jnp.int32)
    xt = jnp.asarray(mnist.x_test.reshape(len(mnist.x_test), -1), jnp.float32) / 255.0
    yt = jnp.asarray(mnist.y_test, jnp.int32)
    rng = np.random.default_rng(0)
    order = jnp.asarray(rng.permutation(len(mnist.y_train))[: args.steps * BATCH])
    batches = order.reshape(args.steps, BATCH)

    def train(params):  # one model: every step in one scan
        def step(p, idx):
            grads = jax.grad(loss_fn)(p, x[idx], y[idx])
            return jax.tree.map(lambda w, g: w - LR * g, p, grads), None

        params, _ = jax.lax.scan(step, params, batches)
        test = (logits(params, xt).argmax(-1) == yt).mean()
        seen = (logits(params, x[:TRAIN_IMAGES]).argmax(-1) == y[:TRAIN_IMAGES]).mean()
        return test, seen

    run = jax.jit(jax.vmap(train))  # one compiled program per depth
    cells = []
    for depth in (int(d) for d in args.depths.split(",")):
        stacked = [init_params(jax.random.PRNGKey(i), depth, s) for i, s in enumerate(SCALES)]
        params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *stacked)
        test, seen = run(params)
        for scale, t, s in zip(SCALES, test.tolist(), seen.tolist()):
            cells.append({"depth": depth, "scale": scale, "test": t, "train_set": s})
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "cells": cells}))


if __name__ == "__main__":
    main()
