"""The comparison as a JAX user would write it: every (init, seed) model's parameters
stacked, one `vmap`-ed, `jit`-compiled Adam step (optax) for all of them, each model with
its own data order; the test set evaluated at each epoch's end. A whole process, timed
by `make bench` (benchmarks/bench.py) beside initcmp and PyTorch.

    python benchmarks/peers/jax_compare.py --inits random,glorot,he --seeds 3 --epochs 1

Prints one JSON line: seconds of training and evaluation, and each model's accuracy.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from initcmp.data import sources
from initcmp.config.schema import DataConfig

SIZES = (784, 256, 256, 10)


def init_params(key, init: str):
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        key, sub = jax.random.split(key)
        if init == "random":
            w = jax.random.normal(sub, (fan_in, fan_out))
        elif init == "orthogonal":
            w = jax.nn.initializers.orthogonal()(sub, (fan_in, fan_out))
        else:  # uniform: glorot Var 2/(in+out), he 2/in, lecun 1/in
            var = {"glorot": 2 / (fan_in + fan_out), "he": 2 / fan_in, "lecun_uniform": 1 / fan_in}[
                init
            ]
            w = jax.random.uniform(sub, (fan_in, fan_out), minval=-1) * jnp.sqrt(3 * var)
        params.append((w, jnp.zeros(fan_out)))
    return params


def logits(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = jax.nn.relu(x)
    return x


def loss_fn(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y).mean()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inits", default="random,glorot,he")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    mnist = sources.load(DataConfig())
    start = time.perf_counter()
    x = jnp.asarray(mnist.x_train.reshape(60000, -1), jnp.float32) / 255.0
    y = jnp.asarray(mnist.y_train, jnp.int32)
    xt = jnp.asarray(mnist.x_test.reshape(10000, -1), jnp.float32) / 255.0
    yt = jnp.asarray(mnist.y_test, jnp.int32)
    models = [(i, s) for i in args.inits.split(",") for s in range(args.seeds)]
    stacked = [init_params(jax.random.PRNGKey(s), i) for i, s in models]
    params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *stacked)
    optimizer = optax.adam(1e-3)
    state = jax.vmap(optimizer.init)(params)

    def one_step(p, s, idx):
        grads = jax.grad(loss_fn)(p, x[idx], y[idx])
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s

    step = jax.jit(jax.vmap(one_step))
    accuracy = jax.jit(jax.vmap(lambda p: (logits(p, xt).argmax(-1) == yt).mean()))
    rng = np.random.default_rng(0)
    for _ in range(args.epochs):
        orders = np.stack([rng.permutation(60000) for _ in models])
        for i in range(0, 60000, 128):
            params, state = step(params, state, orders[:, i : i + 128])
        accuracies = accuracy(params)
    accuracies.block_until_ready()
    seconds = time.perf_counter() - start
    names = [f"{init}-s{seed}" for init, seed in models]
    print(json.dumps({"seconds": seconds, "accuracy": dict(zip(names, accuracies.tolist()))}))


if __name__ == "__main__":
    main()
