"""The comparison as a plain PyTorch script: each (init, seed) model trained in turn,
eager, Adam, batch 128, its own data order; the test set evaluated at each epoch's end.
A whole process, timed by `make bench` (benchmarks/peers.py) beside initcmp and JAX.

    python benchmarks/peers/torch_compare.py --inits random,glorot,he --seeds 3 --epochs 1

Prints one JSON line: seconds of training and evaluation, and each model's accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from initcmp.data import sources
from initcmp.config.schema import DataConfig

INITS = {
    "random": lambda w: torch.nn.init.normal_(w, 0, 1),
    "glorot": torch.nn.init.xavier_uniform_,
    "he": torch.nn.init.kaiming_uniform_,  # its defaults give He's uniform bound
    "lecun_uniform": lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="linear"),
    "orthogonal": torch.nn.init.orthogonal_,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inits", default="random,glorot,he")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    mnist = sources.load(DataConfig())
    start = time.perf_counter()
    x = torch.tensor(mnist.x_train.reshape(60000, -1), dtype=torch.float32) / 255.0
    y = torch.tensor(mnist.y_train.astype(np.int64))
    xt = torch.tensor(mnist.x_test.reshape(10000, -1), dtype=torch.float32) / 255.0
    yt = torch.tensor(mnist.y_test.astype(np.int64))
    accuracy = {}
    for init in args.inits.split(","):
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            net = torch.nn.Sequential(
                torch.nn.Linear(784, 256),
                torch.nn.ReLU(),
                torch.nn.Linear(256, 256),
                torch.nn.ReLU(),
                torch.nn.Linear(256, 10),
            )
            for layer in net:
                if isinstance(layer, torch.nn.Linear):
                    INITS[init](layer.weight)
                    torch.nn.init.zeros_(layer.bias)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            for _ in range(args.epochs):
                order = torch.randperm(60000)
                for i in range(0, 60000, 128):
                    idx = order[i : i + 128]
                    loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    hits = (net(xt).argmax(1) == yt).float().mean().item()
            accuracy[f"{init}-s{seed}"] = hits
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "accuracy": accuracy}))


if __name__ == "__main__":
    main()
