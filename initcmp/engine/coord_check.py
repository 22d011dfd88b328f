"""The coordinate check's measurement (Yang et al. 2022, Tensor Programs V, and
`microsoft/mup`'s `mup/coord_check.py`): for each width and seed, a network trained for
steps t = 1..T on one fixed batch, by the same compiled step and optimizer as any run
(engine/fused.py: the parametrization's multipliers and per-layer learning rates
included), and at every t = 0..T the mean absolute value of each layer's output on that
batch (after the activation; the logits last), and its mean absolute change since t = 0.

mup records each module's output during the forward pass of step t; here the outputs
are measured on the same batch after t updates, which is the same thing one step
shifted (t = 0: the initial network). analysis/width_theory.py fits and reads the result.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from initcmp.engine import batches
from initcmp.engine import fused
from initcmp.engine import models
from initcmp.engine import runtime
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset


def at_width(cfg: Config, width: int, seed: int) -> Config:
    """`cfg` with every hidden layer `width` units wide, and `seed`."""
    model = dataclasses.replace(cfg.model, hidden=(width,) * len(cfg.model.hidden))
    return dataclasses.replace(cfg, model=model, seed=seed)


def measure(cfg: Config, data: Dataset, widths: list[int], steps: int, seeds: list[int]) -> dict:
    """{"layers": names, "size": array (T+1, widths, seeds, layers) of mean |h_t|,
    "change": the same of mean |h_t - h_0|, "batch": the batch's rows}. The batch is the
    first `train.batch_size` images of seed 0's first epoch, for every width and seed."""
    runtime.tensorflow()
    rows = batches.epoch_order(len(data.y_train), 0, 0)[: cfg.train.batch_size]
    x = batches.scale_pixels(data.x_train[rows].astype(np.float32))
    size = np.zeros((steps + 1, len(widths), len(seeds), len(cfg.model.hidden) + 1))
    change = np.zeros_like(size)
    engine = fused.Engine()
    for w, width in enumerate(widths):
        cfgs = [at_width(cfg, width, seed) for seed in seeds]
        members = []
        for c in cfgs:  # each seed's own network, as a run starts (engine/run_state.py)
            model, optimizer = models.build_model(c), models.build_optimizer(c)
            optimizer.build(model.trainable_variables)
            members.append((model, optimizer))
        stack = engine.stack(cfgs[0], members, data)
        stack.load(0, np.zeros((len(members), 3)))
        idx = np.tile(rows.astype(np.int32), (1, len(members), 1))  # (1 step, K, batch)
        counts = np.array([len(rows)], np.int32)
        first = None
        for t in range(steps + 1):
            if t:
                stack.train_steps(idx, counts, 1)
            outputs = []
            for i, (model, _) in enumerate(members):
                stack.store(i)
                outputs.append(
                    [
                        post.numpy().astype(np.float64)
                        for _, post in models.forward(model, cfg.model.activation, x)
                    ]
                )
            first = first or outputs
            for s, layers in enumerate(outputs):
                for j, h in enumerate(layers):
                    size[t, w, s, j] = np.mean(np.abs(h))
                    change[t, w, s, j] = np.mean(np.abs(h - first[s][j]))
        del stack, members
        runtime.release()
    names = [f"hidden_{i}" for i in range(len(cfg.model.hidden))] + ["logits"]
    return {"layers": names, "size": size, "change": change, "rows": rows.tolist()}
