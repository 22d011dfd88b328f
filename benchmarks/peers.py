"""`make bench`, part two: initcmp against its peers, whole processes side by side.

Each experiment is run by `initcmp compare` (fresh folders, MNIST and XLA's compiled
steps in their caches, as a user's second run finds them), by a plain PyTorch script
and by a JAX script with every model stacked under `vmap` in one `jit` step
(benchmarks/peers/), in alternating rounds; and by `initcmp compare` evaluating as the
peers do, once per epoch (and at step 0), to show what its default evaluations cost.
Each figure is the best of its rounds, the peak resident memory (/usr/bin/time) the
worst. Writes benchmarks/peers.md.

    python benchmarks/peers.py [--rounds N] [--large-rounds N]

  default   3 inits x 3 seeds x 1 epoch (`make run`)
  large     5 inits x 5 seeds x 2 epochs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import LARGE_INITS, cpu_name  # benchmarks/bench.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "benchmarks" / "peers"
EXPERIMENTS = {
    "default": ("random,glorot,he", 3, 1),
    "large": (",".join(LARGE_INITS), 5, 2),
}


def timed(command: list[str], cwd: str) -> tuple[float, float]:
    """Seconds from start to exit and peak memory (GB) of one process."""
    rss = Path(cwd) / "rss"
    start = time.perf_counter()
    subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(rss), *command],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    seconds = time.perf_counter() - start
    return seconds, int(rss.read_text().split()[-1]) / 1024**2


def commands(inits: str, seeds: int, epochs: int) -> dict[str, list[str]]:
    initcmp = str(Path(sys.executable).with_name("initcmp"))
    peer = ["--inits", inits, "--seeds", str(seeds), "--epochs", str(epochs)]
    return {
        "initcmp": [
            initcmp,
            "compare",
            "--inits",
            inits,
            "--seeds",
            str(seeds),
            "--epochs",
            str(epochs),
        ],
        # The same command evaluating as the peers do, once per epoch (and at step 0):
        # what initcmp's default evaluations (every 100 steps, 1,000 training images too)
        # cost, in the same rounds.
        "initcmp_per_epoch": [
            initcmp,
            "compare",
            *peer,
            "--set",
            "eval.every_steps=null",
            "--set",
            "eval.train_images=0",
        ],
        "pytorch": [sys.executable, str(PEERS / "torch_compare.py"), *peer],
        "jax": [sys.executable, str(PEERS / "jax_compare.py"), *peer],
    }


def available(peer: str) -> bool:
    module = {"pytorch": "torch", "jax": "optax"}.get(peer)
    if module is None:
        return True
    probe = [sys.executable, "-c", f"import {module}"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def measure(rounds: dict[str, int]) -> dict:
    results: dict = {}
    for name, (inits, seeds, epochs) in EXPERIMENTS.items():
        runs = {p: c for p, c in commands(inits, seeds, epochs).items() if available(p)}
        for round_ in range(rounds[name]):
            for peer, command in runs.items():  # alternate: one of each per round
                print(f"{name} round {round_ + 1}: {peer}", file=sys.stderr, flush=True)
                with tempfile.TemporaryDirectory() as tmp:
                    seconds, memory = timed(command, tmp)
                entry = results.setdefault(name, {}).setdefault(peer, {"s": [], "gb": []})
                entry["s"].append(round(seconds, 2))
                entry["gb"].append(round(memory, 2))
    return results


def report(results: dict, rounds: dict[str, int]) -> str:
    lines = [
        "# initcmp against its peers",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_name()}; Python {platform.python_version()}. "
        f"Measured {time.strftime('%Y-%m-%d')} by `make bench` (benchmarks/peers.py): whole "
        "processes, fresh folders, alternating; seconds are the best of the rounds "
        f"({', '.join(f'{k}: {v}' for k, v in rounds.items())}), memory the worst.",
        "",
        "| experiment | initcmp | initcmp, test set once per epoch | plain PyTorch "
        "| JAX, vmap + jit | initcmp / fastest peer (once per epoch) |",
        "|---|---|---|---|---|---|",
    ]
    for name, (inits, seeds, epochs) in EXPERIMENTS.items():
        row = results.get(name, {})
        if not row:
            continue  # not measured (--large-rounds 0)
        cells = []
        for peer in ("initcmp", "initcmp_per_epoch", "pytorch", "jax"):
            if peer in row:
                cells.append(f"{min(row[peer]['s']):.1f} s, {max(row[peer]['gb']):.2f} GB")
            else:
                cells.append("not installed")
        peers = [min(row[p]["s"]) for p in ("pytorch", "jax") if p in row]
        ratio = ""
        if peers:
            full, lean = (min(row[p]["s"]) / min(peers) for p in ("initcmp", "initcmp_per_epoch"))
            ratio = f"{full:.2f}x ({lean:.2f}x)"
        what = f"{name}: {len(inits.split(','))} inits x {seeds} seeds x {epochs} epoch(s)"
        lines.append(f"| {what} | {' | '.join(cells)} | {ratio} |")
    lines += ["", "Round by round (initcmp's process against the peer's of the same round):", ""]
    for name, row in results.items():
        for peer in ("pytorch", "jax"):
            if "initcmp" in row and peer in row:
                ratios = [a / b for a, b in zip(row["initcmp"]["s"], row[peer]["s"])]
                lines.append(
                    f"- {name}, initcmp / {peer}: median {statistics.median(ratios):.2f}x "
                    f"(rounds: {min(ratios):.2f}-{max(ratios):.2f}x)"
                )
    lines += ["", "Every round's seconds:", "", "```", json.dumps(results, indent=1), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    # Five rounds of the default: a peer's time varied from 10.7 to 13.7 s in three.
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--large-rounds", type=int, default=2)
    args = parser.parse_args()
    rounds = {"default": args.rounds, "large": args.large_rounds}
    text = report(measure(rounds), rounds)
    (ROOT / "benchmarks" / "peers.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
