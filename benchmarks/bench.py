"""`make bench`: initcmp's training speed against its peers, on this machine.

Everything runs in one session, in alternating rounds, and each figure is the best of
its rounds (this machine's timings vary by up to 1.5x from one run to the next). Writes
benchmarks/results.md. Not a test: nothing here passes or fails.

  peak       a 2048 x 2048 x 2048 float32 matmul, TensorFlow, compiled
  steps      initcmp's compiled training step alone: one run, 9 runs fused (the default
             comparison) and 25 (5 inits x 5 seeds, the large comparison of peers.py)
  keras fit  the same model and data through `model.fit` (second epoch timed)
  notebook   the notebook's loop: eager step, then train metrics and the whole test set
             evaluated after every step; 40 steps timed, extrapolated to 469
  limits     the step's matmuls alone, and its optimizer update alone
  torch      the same experiment in plain PyTorch eager, a whole process, if torch is
             installed
  processes  `initcmp compare --seeds 3` start to exit, fused and one by one; start-up
             (process start to first training step) and peak memory
  phases     where one compare's seconds go (benchmarks/phases.py)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from initcmp.config import resolve
from initcmp.data import sources
from initcmp.engine import fused
from initcmp.engine import models
from initcmp.engine import runtime
from initcmp.config.schema import DataConfig

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3
STEPS = 60  # timed steps per round
EPOCH_FLOP = 3 * 2 * (784 * 256 + 256 * 256 + 256 * 10) * 60000  # ~97 GFLOP
EPOCH_STEPS = 469
LARGE_INITS = ("random", "glorot", "he", "lecun_uniform", "orthogonal")
STACKS = (("one", 1), ("nine", 9), ("many", 25))  # the step's columns: runs in the stack


def best(fn, rounds=ROUNDS):
    return min(fn() for _ in range(rounds))


def peak_gflops(tf) -> float:
    a = tf.constant(np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32))
    matmul = tf.function(lambda a: tf.matmul(a, a), jit_compile=True)
    matmul(a).numpy()

    def once():
        start = time.perf_counter()
        for _ in range(5):
            out = matmul(a)
        out.numpy()
        return (time.perf_counter() - start) / 5

    return 2 * 2048**3 / best(once, 5) / 1e9


def stack_of(k: int, mnist, timed=True):
    """The first k runs of the default comparison (3 inits x 3 seeds), or for k > 9 of
    the large one (5 inits x 5 seeds), as one stack."""
    inits = ("random", "glorot", "he") if k <= 9 else LARGE_INITS
    seeds = range(3 if k <= 9 else 5)
    cfg = resolve.load()
    cfgs = [resolve.for_run(cfg, init, seed) for init in inits for seed in seeds][:k]
    members = []
    for cfg in cfgs:
        model, optimizer = models.build_model(cfg), models.build_optimizer(cfg)
        optimizer.build(model.trainable_variables)
        members.append((model, optimizer))
    stack = fused.StackedRuns(cfgs[0], members, mnist)
    stack.load(0)
    if not timed:
        return stack
    rng = np.random.default_rng(0)
    size = fused.BLOCK_STEPS  # STEPS steps in blocks of it, as engine/train.py calls the stack
    lengths = [min(size, STEPS - a) for a in range(0, STEPS, size)]
    blocks = [
        (rng.integers(0, 60000, (size, k, 128)).astype(np.int32), np.full(size, 128, np.int32), n)
        for n in lengths
    ]
    stack.train_steps(*blocks[0])
    stack.step.numpy()

    def once():  # seconds per step
        start = time.perf_counter()
        for block in blocks:
            stack.train_steps(*block)
        stack.step.numpy()
        return (time.perf_counter() - start) / STEPS

    return once


def step_parts(k: int, mnist, tf):
    """Two pieces of the K-run step, each compiled and timed alone: its 8 matmuls
    (forward, weight gradients, input gradients of the upper layers) at the step's
    shapes, and the optimizer's update of the stacked weights. What is left of a step
    is the rest: the batch gather, softmax, bias sums and masks."""
    stack = stack_of(k, mnist, timed=False)
    rng = np.random.default_rng(0)
    kernels = stack.variables[0::2]
    x = tf.constant(rng.random((k, 128, 784), np.float32))
    dys = [
        tf.constant(rng.standard_normal((k, 128, w.shape[-1])).astype(np.float32)) for w in kernels
    ]

    @tf.function(jit_compile=True, autograph=False)
    def matmuls():
        h, inputs, out = x, [], []
        for w in kernels:
            inputs.append(h)
            h = tf.matmul(h, w)
        for i, (w, dy) in enumerate(zip(kernels, dys)):
            out.append(tf.matmul(inputs[i], dy, transpose_a=True))
            if i:
                out.append(tf.matmul(dy, w, transpose_b=True))
        return h, out

    grads = [
        tf.constant(rng.standard_normal(v.shape).astype(np.float32) * 1e-3) for v in stack.variables
    ]

    @tf.function(jit_compile=True, autograph=False)
    def update():
        stack.optimizer.apply_gradients(zip(grads, stack.variables))
        return stack.variables[0][0, 0, 0]

    def timer(fn, n=STEPS):
        tf.nest.map_structure(lambda t: t.numpy(), fn())

        def once():
            start = time.perf_counter()
            for _ in range(n):
                out = fn()
            tf.nest.map_structure(lambda t: t.numpy(), out)
            return (time.perf_counter() - start) / n

        return once

    return timer(matmuls), timer(update)


def keras_fit(mnist):
    import keras

    keras.utils.set_random_seed(0)  # fit shuffles; op determinism wants a seed
    cfg = resolve.load()
    model = models.build_model(cfg)
    model.compile(
        optimizer=models.build_optimizer(cfg),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = mnist.x_train.astype(np.float32) / 255.0
    model.fit(x, mnist.y_train, batch_size=128, epochs=1, verbose=0)  # trace and warm up

    def once():  # seconds per epoch
        start = time.perf_counter()
        model.fit(x, mnist.y_train, batch_size=128, epochs=1, verbose=0)
        return time.perf_counter() - start

    return once


def notebook_loop(mnist, tf, steps=40):
    """The notebook's loop, eager: step, then train loss/accuracy on the same batch and
    the whole test set, after every step. Seconds per step."""
    cfg = resolve.load()
    model, optimizer = models.build_model(cfg), models.build_optimizer(cfg)
    x_test = tf.constant(mnist.x_test.astype(np.float32) / 255.0)
    y_test = tf.one_hot(mnist.y_test, 10)
    x_train = mnist.x_train.astype(np.float32) / 255.0
    y_train = np.eye(10, dtype=np.float32)[mnist.y_train]

    def loss_fn(x, y):
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=model(x)))

    def accuracy(x, y):
        return tf.reduce_mean(
            tf.cast(tf.equal(tf.argmax(model(x), 1), tf.argmax(y, 1)), tf.float32)
        )

    def once():
        start = time.perf_counter()
        for i in range(steps):
            x, y = (
                tf.constant(x_train[i * 128 : (i + 1) * 128]),
                tf.constant(y_train[i * 128 : (i + 1) * 128]),
            )
            with tf.GradientTape() as tape:
                loss = loss_fn(x, y)
            optimizer.apply_gradients(
                zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
            )
            float(loss_fn(x, y)), float(accuracy(x, y)), float(accuracy(x_test, y_test))
        return (time.perf_counter() - start) / steps

    return once


def torch_process() -> tuple[float, float] | None:
    """The 9 runs (3 inits x 3 seeds, 1 epoch) by the plain PyTorch script
    (benchmarks/peers/torch_compare.py) as a whole process, like `initcmp compare`:
    (seconds start to exit, seconds of its training and evaluation alone); None without
    torch."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "peers" / "torch_compare.py")],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return seconds, json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


CHILD = """
import os, sys, time
start = float(sys.argv[1])
from initcmp.config import resolve
from initcmp.data import sources
from initcmp.engine import train
from initcmp.config.schema import DataConfig
from initcmp.engine.reporter import Reporter
class First(Reporter):
    def progress(self, step, metrics):
        print(time.time() - start, flush=True)
        os._exit(0)
cfg = resolve.load(None, [resolve.Override("init.name", "he", "--init"),
                              resolve.parse_set("log.every_steps=1")])
train.run(cfg, sources.load(DataConfig()), checkpoint_root=sys.argv[2], log_root=sys.argv[2],
          reporter=First())
"""


def startup_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, repr(time.time()), tmp],
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout.split()[-1])


LARGE_ARGS = ("--inits", ",".join(LARGE_INITS), "--seeds", "5", "--epochs", "2")


def compare_phases(*args: str) -> dict:
    """Seconds per stage of one fused `initcmp compare ARGS` (benchmarks/phases.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "phases.py"), *args],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_process(fuse: bool) -> tuple[float, float]:
    """Seconds and peak resident memory (GB) of `initcmp compare --seeds 3`, fresh folders.
    The memory comes from /usr/bin/time: a child forked from this (large) process would
    report this process's memory as its own peak."""
    initcmp = str(Path(sys.executable).with_name("initcmp"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                "-o",
                f"{tmp}/rss",
                initcmp,
                "compare",
                "--seeds",
                "3",
                "--set",
                f"compare.fuse={str(fuse).lower()}",
            ],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        seconds = time.perf_counter() - start
        peak_kb = int(Path(f"{tmp}/rss").read_text().split()[-1])
    return seconds, peak_kb / 1024**2


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    tf = runtime.tensorflow()
    mnist = sources.load(DataConfig())
    print("benchmarking; this takes about five minutes", file=sys.stderr)
    steps = {}  # "one": the step, "mm_one": its matmuls, "up_one": its update; per stack
    for name, k in STACKS:
        steps[name] = stack_of(k, mnist)
        steps[f"mm_{name}"], steps[f"up_{name}"] = step_parts(k, mnist, tf)
    fit, notebook = keras_fit(mnist), notebook_loop(mnist, tf)
    r = {
        k: []
        for k in (
            "peak",
            *steps,
            "fit",
            "notebook",
            "torch",
            "torch_train",
            "startup",
            "fused",
            "alone",
            "mem_fused",
            "mem_alone",
            "phases",
            "phases_large",
        )
    }
    for round_ in range(ROUNDS):  # alternate everything, keep each one's best
        print(f"round {round_ + 1}/{ROUNDS}", file=sys.stderr)
        r["peak"].append(peak_gflops(tf))
        for key, fn in (*steps.items(), ("fit", fit)):
            r[key].append(fn())
        if round_ == 0:
            r["notebook"].append(notebook())
        torch = torch_process()
        if torch:
            r["torch"].append(torch[0])
            r["torch_train"].append(torch[1])
        r["startup"].append(startup_seconds())
        for fuse, key in ((True, "fused"), (False, "alone")):
            seconds, memory = compare_process(fuse)
            r[key].append(seconds)
            r[f"mem_{key}"].append(memory)
        r["phases"].append(compare_phases("--seeds", "3"))
        if round_ == 0:
            r["phases_large"].append(compare_phases(*LARGE_ARGS))
    text = report(r, tf.__version__, time.strftime("%Y-%m-%d"))
    (ROOT / "benchmarks" / "results.md").write_text(text)
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(r, indent=1) + "\n")
    print(text)


def report(r: dict, tf_version: str, date: str) -> str:
    """results.md from the measurements `r` (results.json holds them too)."""
    peak = max(r["peak"])
    one_epoch, nine_epoch = min(r["one"]) * EPOCH_STEPS, min(r["nine"]) * EPOCH_STEPS / 9
    many_epoch = min(r["many"]) * EPOCH_STEPS / 25
    fit_epoch, notebook_epoch = min(r["fit"]), min(r["notebook"]) * 468
    step_flop = EPOCH_FLOP / EPOCH_STEPS

    def row(what, epoch_s, note=""):
        return (
            f"| {what} | {epoch_s:.2f} s | {60000 / epoch_s:,.0f} | "
            f"{EPOCH_FLOP / epoch_s / 1e9 / peak:.0%} | {note} |"
        )

    def part(what, prefix, share_of_step=False):
        """A row of the step table: milliseconds, and in brackets the step's useful FLOP
        over them as a share of the peak (or, for a piece that does no matmul, its share
        of the whole step's time)."""
        cells = []
        for step_key, k in STACKS:
            seconds = min(r[prefix + step_key])
            share = (
                seconds / min(r[step_key])
                if share_of_step
                else step_flop * k / seconds / 1e9 / peak
            )
            cells.append(f"{seconds * 1e3:.1f} ms ({share:.0%})")
        return f"| {what} | {' | '.join(cells)} |"

    phases = min(r["phases"], key=lambda p: p["total"])
    large = r["phases_large"][0]
    fused_s, torch_s = min(r["fused"]), min(r["torch"]) if r["torch"] else None
    lines = [
        "# Benchmark results",
        "",
        (
            f"Machine: {os.cpu_count()} cores, {cpu_name()}; Python {platform.python_version()}, "
            f"TensorFlow {tf_version}. Measured {date} by `make bench` "
            f"(benchmarks/bench.py): {ROUNDS} alternating rounds, best of each (memory: the "
            "worst)."
        ),
        "",
        (
            f"Matmul peak (2048³ float32, XLA): **{peak:.0f} GFLOP/s** (best of its rounds: "
            f"{', '.join(f'{p:.0f}' for p in r['peak'])}). One epoch of the default MLP is "
            f"{EPOCH_FLOP / 1e9:.0f} GFLOP of training matmuls, so the floor is "
            f"{EPOCH_FLOP / 1e9 / peak:.2f} s per epoch per model."
        ),
        "",
        "## Training, per model and epoch (60,000 images, batch 128)",
        "",
        "| what | time per epoch | examples/s | of matmul peak | note |",
        "|---|---|---|---|---|",
        row("initcmp, one run (compiled step)", one_epoch, f"{STEPS} steps timed"),
        row("initcmp, 9 runs fused, per model", nine_epoch, f"{STEPS} steps timed"),
        row("initcmp, 25 runs fused, per model", many_epoch, f"{STEPS} steps timed"),
        row("Keras `model.fit`", fit_epoch, "second epoch timed"),
        row(
            "notebook loop (eager, full test eval every step)",
            notebook_epoch,
            "40 steps timed, x 468",
        ),
        "",
        "## What limits the step",
        "",
        (
            "The step and two of its pieces, each compiled and timed alone at the step's shapes. "
            "In brackets: the step's useful FLOP over the time, as a share of the matmul peak; "
            "for the update, its time as a share of the step's. The pieces overlap inside the "
            "step (XLA runs independent ops on both cores), so they need not add up to it."
        ),
        "",
        "| per step | one run | 9 runs fused | 25 runs fused |",
        "|---|---|---|---|",
        part("the whole training step", ""),
        part("its 8 matmuls alone (forward, weight and input gradients)", "mm_"),
        part(
            "the optimizer update alone (Keras Adam on the stacked weights)",
            "up_",
            share_of_step=True,
        ),
        "",
        "## Whole processes",
        "",
        "| what | result |",
        "|---|---|",
        (
            f"| `initcmp compare --seeds 3`, fused (9 runs, 1 epoch, 6 evaluations each) | "
            f"{fused_s:.1f} s, peak memory {max(r['mem_fused']):.2f} GB |"
        ),
        (
            f"| the same, one by one (`--set compare.fuse=false`) | {min(r['alone']):.1f} s, "
            f"peak memory {max(r['mem_alone']):.2f} GB |"
        ),
        (
            f"| start-up: process start to first training step (`initcmp train`) | "
            f"{min(r['startup']):.1f} s |"
        ),
    ]
    if torch_s:
        lines += [
            (
                f"| plain PyTorch eager, the same 9 runs + test evaluation, a whole process "
                f"(its training and evaluation alone: {min(r['torch_train']):.1f} s) | "
                f"{torch_s:.1f} s |"
            ),
            f"| initcmp compare / PyTorch | {fused_s / torch_s:.2f}x |",
        ]
    else:
        lines.append(
            "| plain PyTorch eager | not measured: torch is not installed "
            "(`pip install torch==2.13.0`) |"
        )
    lines += [
        "",
        "## Where one fused compare's seconds go",
        "",
        (
            f"benchmarks/phases.py, the round with the smallest total ({phases['total']:.1f} s; "
            "timers inside the process, so Python's own start is not in it):"
        ),
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {stage} | {sec:.2f} |" for stage, sec in phases.items() if stage != "total"],
        "",
        f"And of one large comparison, {' '.join(LARGE_ARGS)} ({large['total']:.1f} s):",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {stage} | {sec:.2f} |" for stage, sec in large.items() if stage != "total"],
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
