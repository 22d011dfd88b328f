"""`make bench`, part two: initcmp against its peers, whole processes side by side.

Each experiment is run by `initcmp compare` (fresh folders, MNIST and XLA's compiled
steps in their caches, as a user's second run finds them), by a plain PyTorch script
and by a JAX script with every model stacked under `vmap` in one `jit` step
(benchmarks/peers/), in alternating rounds; and by `initcmp compare` evaluating as the
peers do, once per epoch (and at step 0), to show what its default evaluations cost.
Each figure is the best of its rounds, the peak resident memory (/usr/bin/time) the
worst. Writes benchmarks/peers.md.

    python benchmarks/peers.py [--rounds N] [--large-rounds N] [--sweep-rounds N]

  default   3 inits x 3 seeds x 1 epoch (`make run`)
  large     5 inits x 5 seeds x 2 epochs
  sweep     `initcmp sweep --config edge_of_chaos` (130 runs, by default in one worker
            process a core), the same trained one stack at a time in one process
            (`--set compare.workers=1`: its runs' weights_sha256 and its table are
            checked equal to the first's), and a JAX script (benchmarks/peers/jax_sweep.py)

Efficiency: the arithmetic each experiment does (training and evaluation, counted from
its config as initcmp/experiments/cost.py counts it) over the whole process's seconds,
as a fraction of this machine's matmul peak, measured first by TensorFlow at the
experiment's own shapes (every layer's three training matmuls, the runs stacked) and
at 2048 x 2048.
"""

from __future__ import annotations

import argparse
import hashlib
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
SWEEP = "edge_of_chaos"
# Matmul peaks, one per experiment, at its shapes: (runs stacked, layer widths); the
# sweep's at its shallowest depth (10 layers of 100).
SHAPES = {
    "default": (9, [784, 256, 256, 10]),
    "large": (13, [784, 256, 256, 10]),
    "sweep": (13, [784] + [100] * 10 + [10]),
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


def sweep_commands() -> dict[str, list[str]]:
    initcmp = str(Path(sys.executable).with_name("initcmp"))
    sweep = [initcmp, "sweep", "--config", SWEEP]
    return {
        "initcmp": sweep,
        "initcmp_one_process": [*sweep, "--set", "compare.workers=1"],
        "jax": [sys.executable, str(PEERS / "jax_sweep.py")],
    }


def outcome(folder: str) -> str | None:
    """A digest of every run's weights_sha256 and of the sweep's table (times left
    out) under `folder`; None if it holds no sweep."""
    tables = sorted(Path(folder, "logs").rglob("sweep.json"))
    if not tables:
        return None
    shas = sorted(
        (p.parent.name, json.loads(p.read_text())["weights_sha256"])
        for p in Path(folder, "logs").rglob("result.json")
    )
    cells = [
        {k: v for k, v in c.items() if k != "seconds"}
        for c in json.loads(tables[0].read_text())["cells"]
    ]
    return hashlib.sha256(json.dumps([shas, cells], sort_keys=True).encode()).hexdigest()


def load() -> str:
    """The machine's load average over the last minute, as `uptime` gives it."""
    return f"{os.getloadavg()[0]:.2f}"


def measure(rounds: dict[str, int]) -> dict:
    results: dict = {}
    experiments = {n: commands(*e) for n, e in EXPERIMENTS.items()}
    experiments["sweep"] = sweep_commands()
    for name, all_commands in experiments.items():
        runs = {p: c for p, c in all_commands.items() if available(p)}
        for round_ in range(rounds[name]):
            for peer, command in runs.items():  # alternate: one of each per round
                print(f"{name} round {round_ + 1}: {peer}", file=sys.stderr, flush=True)
                before = load()
                with tempfile.TemporaryDirectory() as tmp:
                    seconds, memory = timed(command, tmp)
                    digest = outcome(tmp)
                entry = results.setdefault(name, {}).setdefault(
                    peer, {"s": [], "gb": [], "load": []}
                )
                entry["s"].append(round(seconds, 2))
                entry["gb"].append(round(memory, 2))
                entry["load"].append(f"{before}-{load()}")
                if digest:
                    entry.setdefault("outcome", []).append(digest[:16])
    return results


def arithmetic() -> dict[str, float]:
    """Each experiment's operations, training and evaluation, as cost.py counts them."""
    from initcmp.config import resolve
    from initcmp.experiments import compare, cost, sweep

    out = {}
    for name, (inits, seeds, epochs) in EXPERIMENTS.items():
        overrides = [
            resolve.Override("compare.inits", inits.split(","), "peers.py"),
            resolve.Override("compare.seeds", list(range(seeds)), "peers.py"),
            resolve.Override("train.epochs", epochs, "peers.py"),
        ]
        cfg = resolve.load(overrides=overrides)
        out[name] = cost.of_runs(compare.plan(cfg)).flops
    out["sweep"] = sweep.estimate(resolve.load(SWEEP)).flops
    return out


def matmul_peaks() -> dict[str, float]:
    """GFLOP/s of TensorFlow's compiled float32 matmuls on this machine: at 2048 x 2048,
    and for each experiment at its own shapes (batch 128, the runs stacked): every
    layer's forward product and its two gradient products, best of 5 rounds of 20 calls."""
    import numpy as np

    from initcmp.engine import runtime

    tf = runtime.tensorflow()
    rng = np.random.default_rng(0)

    def rate(fn, flops):
        fn()  # compile
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(20):
                out = fn()
            tf.nest.map_structure(lambda t: t.numpy(), out)
            best = min(best, (time.perf_counter() - start) / 20)
        return flops / best / 1e9

    def const(*shape):
        return tf.constant(rng.standard_normal(shape).astype(np.float32))

    a = const(2048, 2048)
    peaks = {"2048": rate(tf.function(lambda: tf.matmul(a, a), jit_compile=True), 2 * 2048**3)}
    for name, (k, widths) in SHAPES.items():
        layers = [
            (const(k, 128, i), const(k, i, o), const(k, 128, o)) for i, o in zip(widths, widths[1:])
        ]

        @tf.function(jit_compile=True, autograph=False)
        def step(layers=layers):
            return [
                (
                    tf.matmul(x, w),
                    tf.matmul(x, dy, transpose_a=True),
                    tf.matmul(dy, w, transpose_b=True),
                )
                for x, w, dy in layers
            ]

        flops = sum(3 * 2 * k * 128 * i * o for i, o in zip(widths, widths[1:]))
        peaks[name] = rate(step, flops)
    return peaks


def report(results: dict, rounds: dict[str, int], flops: dict, peaks: dict) -> str:
    lines = [
        "# initcmp against its peers",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_name()}; Python {platform.python_version()}. "
        f"Measured {time.strftime('%Y-%m-%d')} by `make bench` (benchmarks/peers.py): whole "
        "processes, fresh folders, alternating; seconds are the best of the rounds "
        f"({', '.join(f'{k}: {v}' for k, v in rounds.items())}), memory the worst. "
        "Each round's load average (1 minute, before-after) is listed below.",
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
    row = results.get("sweep", {})
    if row:
        lines += [
            "",
            f"`initcmp sweep --config {SWEEP}` (130 runs), whole processes:",
            "",
            "| sweep | seconds | peak memory of the largest process | initcmp / JAX |",
            "|---|---|---|---|",
        ]
        jax = min(row["jax"]["s"]) if "jax" in row else None
        for peer, what in (
            ("initcmp", "initcmp sweep (default: a worker process a core)"),
            ("initcmp_one_process", "initcmp sweep, one stack at a time in one process"),
            ("jax", "JAX: per depth, vmap over the 13 scales in one jitted lax.scan"),
        ):
            if peer in row:
                ratio = f"{min(row[peer]['s']) / jax:.2f}x" if jax and peer != "jax" else ""
                lines.append(
                    f"| {what} | {min(row[peer]['s']):.1f} s | {max(row[peer]['gb']):.2f} GB "
                    f"| {ratio} |"
                )
        outcomes = {
            o for p in ("initcmp", "initcmp_one_process") for o in row[p].get("outcome", [])
        }
        lines += [
            "",
            "Every run's weights_sha256 and the sweep's table, in worker processes and in one "
            + (
                "process: **identical** in every round."
                if len(outcomes) == 1
                else f"process: **differ** ({len(outcomes)} distinct outcomes)."
            ),
        ]
    lines += [
        "",
        "## Efficiency: arithmetic over the whole process's time, against the matmul peak",
        "",
        "Operations of training and evaluation as initcmp/experiments/cost.py counts them "
        "from the config (6 per weight per training example, 2 per weight per evaluated "
        "image), over each whole process's best time. Matmul peaks measured by TensorFlow "
        f"by the same run: {peaks['2048']:.0f} GFLOP/s at 2048 x 2048; at each experiment's "
        "own shapes (batch 128, runs stacked, a layer's three training products): "
        + ", ".join(f"{n} {peaks[n]:.0f} GFLOP/s" for n in SHAPES)
        + ".",
        "",
        "| experiment | operations | process | GFLOP/s | of its shapes' peak | of the 2048 peak |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("default", "large", "sweep"):
        for peer, row in results.get(name, {}).items():
            rate = flops[name] / min(row["s"]) / 1e9
            lines.append(
                f"| {name} | {flops[name]:.2e} | {peer} | {rate:.1f} | "
                f"{rate / peaks[name]:.0%} | {rate / peaks['2048']:.0%} |"
            )
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
    parser.add_argument("--sweep-rounds", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "peers.md"))
    args = parser.parse_args()
    rounds = {"default": args.rounds, "large": args.large_rounds, "sweep": args.sweep_rounds}
    flops, peaks = arithmetic(), matmul_peaks()
    text = report(measure(rounds), rounds, flops, peaks)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
