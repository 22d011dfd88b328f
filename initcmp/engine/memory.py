"""Memory: what a command will need, estimated before anything is built, so that a config
that cannot fit is refused at once in one line (the numbers, and the keys that reduce
them), and TensorFlow's or numpy's own out-of-memory error becomes the same kind of line.

The estimate is a floor, not a guess: the float32 tensors that must all exist at once at
the command's peak, plus what TensorFlow needs to compile and run a step. It is taken
once TensorFlow is loaded and the data read, so it is compared with what is free then
(`available`). Only a config that cannot fit is refused; one just under the line may
still run out later, and `as_error` then says so in the same words.

How close it is to the real peak (VmHWM), per command: benchmarks/memory.md (the
estimates run 0.65-0.89 of the measured peak there; tests/test_memory.py checks the
default compare and the wide train).

What it leaves out: what Keras and XLA allocate beside the tensors counted (the
initializers' and the optimizer's temporaries, compiled code), and the parts that are
not always there at the peak. model.hidden=[30000, 30000] is refused at 33 GB for one
run, in one line, instead of TensorFlow's ResourceExhaustedError.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field

from initcmp.engine import fused
from initcmp.config.schema import IMAGE_PIXELS, Config
from initcmp.errors import OutOfMemoryError, first_line
from initcmp import text

FLOAT = 4  # bytes: every weight, slot and activation is float32
IMAGE = IMAGE_PIXELS  # a pixel is one byte until it is gathered
# The float32 copies of the weights each optimizer keeps (Keras' defaults: no momentum).
SLOTS = {"adam": 2, "rmsprop": 1, "sgd": 0}
# TensorFlow compiling and running the steps, beyond the tensors counted (the measured
# margins are in benchmarks/memory.md).
WORKING = 0.15e9
# A process that has imported TensorFlow, before it holds any tensor: `import
# tensorflow` alone left a peak resident size of 0.63 GB (TF 2.21, 2-core AMD EPYC).
PROCESS = 0.6e9
# What reduces the parts of a need.
HIDDEN = "model.hidden"
RUNS = "the runs at once (--inits, --seeds)"
FUSED = "the runs trained together (--set compare.fuse=false)"
# What to reduce when TensorFlow ran out on the way.
REDUCE = (
    "model.hidden, train.batch_size or eval.batch_size, or the runs trained at once "
    "(fewer --inits/--seeds, or --set compare.fuse=false)"
)


@dataclass
class Need:
    """A command's memory need: its parts (bytes, what they are, the keys that reduce
    them), largest first."""

    what: str  # "training 9 runs"
    parts: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)

    def add(self, nbytes: float, text: str, *knobs: str) -> Need:
        self.parts = sorted([*self.parts, (float(nbytes), text, knobs)], key=lambda p: -p[0])
        return self

    @property
    def total(self) -> float:
        return sum(nbytes for nbytes, _, _ in self.parts)


def parameters(cfg: Config) -> int:
    w = cfg.model.widths()
    return sum(a * b + b for a, b in zip(w, w[1:]))


def state(cfg: Config) -> int:
    """A run's weights and optimizer slots, in bytes."""
    return parameters(cfg) * FLOAT * (1 + SLOTS[cfg.train.optimizer])


def _evaluation(cfg: Config, k: int, runs: int, rows: int = fused.EVAL_ROWS) -> tuple:
    """One call of the compiled evaluation for a stack of k (at most eval.batch_size
    images, fewer for a large stack: fused.chunk_images): the pixels gathered for each
    run, then at each layer its input and output."""
    w, batch = cfg.model.widths(), cfg.eval.batch_size
    e = fused.chunk_images(batch, batch, k, rows)
    nbytes = k * e * (IMAGE + FLOAT * max(a + b for a, b in zip(w, w[1:])))
    if e < batch:  # cut to `rows` rows a call: more runs mean fewer images each
        knobs = (HIDDEN, "eval.batch_size")
    else:
        knobs = ("eval.batch_size", FUSED) if runs > 1 else ("eval.batch_size",)
    return nbytes, f"evaluating {e} images at once", *knobs


def training(cfgs: list[Config], fuse: bool, dataset, engine: fused.Engine | None = None) -> Need:
    """What `train.run_many(cfgs, dataset, fuse=fuse, engine=engine)` needs at its peak.
    Every run's own model and optimizer is built first and lives throughout; then each
    stack trains in
    turn: its stacked copy, and the largest of a step (the gradients, and each layer's
    output on the batch, kept for the backward pass), an evaluation, and the host copy
    of the stack that a checkpoint reads (kept until the next one)."""
    n = len(cfgs)
    need = Need(f"training {text.plural(n, 'run')}")
    size = f"{parameters(cfgs[0]):,} parameters"
    if n == 1:
        need.add(state(cfgs[0]), f"the run's model and optimizer state ({size})", HIDDEN)
    else:
        what = f"the models and optimizer state of {n} runs ({size} each)"
        need.add(sum(state(c) for c in cfgs), what, HIDDEN, RUNS)
    engine = engine or fused.Engine()
    stacks = engine.stacks(cfgs, fuse)  # as if every run started at one step: the largest
    group = max(stacks, key=lambda g: state(g[0]) * fused.slots(g[0], len(g)))
    cfg, k = group[0], fused.slots(group[0], len(group))
    if len(group) > 1:
        need.add(k * state(cfg), f"the stack of the {k} trained together", HIDDEN, FUSED)
    else:
        need.add(k * state(cfg), "its stacked copy" + (" and twin" if k > 1 else ""), HIDDEN)
    b = cfg.train.batch_size
    step = k * FLOAT * (parameters(cfg) + b * sum(cfg.model.widths()))
    transient = [
        (k * state(cfg), "a checkpoint's copy of the stack", HIDDEN),
        (step, f"a training step of {b} images", HIDDEN, "train.batch_size"),
        _evaluation(cfg, k, len(group), engine.eval_rows),
    ]
    need.add(*max(transient, key=lambda t: t[0]))
    need.add(dataset.x_train.nbytes + dataset.x_test.nbytes, "the data in TensorFlow")
    return need.add(WORKING, "TensorFlow compiling and running the steps")


def worker(stack: list[Config], fuse: bool, dataset) -> Need:
    """What one worker process (experiments/workers.py) needs to train `stack`: the
    stack's own need and TensorFlow's process."""
    need = training(stack, fuse, dataset)
    return need.add(PROCESS, "TensorFlow's own process")


def workers(need: Need, count: int) -> Need:
    """`count` workers' need, each `need`."""
    out = Need(f"{count} worker processes, {need.what} at most each")
    for nbytes, what, knobs in need.parts:
        out.add(count * nbytes, f"{count} x {what}", *knobs, "compare.workers")
    return out


def evaluating(cfg: Config, dataset) -> Need:
    """What `evaluate.evaluate_run` needs: the run's model and optimizer, its stack of
    one (or two), one evaluation, the data in TensorFlow."""
    k = fused.slots(cfg, 1)
    need = Need("evaluating a run").add(state(cfg), "the run's model and optimizer", HIDDEN)
    need.add(k * state(cfg), "its stacked copy", HIDDEN)
    need.add(*_evaluation(cfg, k, 1))
    need.add(dataset.x_train.nbytes + dataset.x_test.nbytes, "the data in TensorFlow")
    return need.add(WORKING, "TensorFlow running the steps")


def inspecting(cfg: Config, batch: int) -> Need:
    """What `diagnose.inspect` needs: the model, its weights' gradients, every layer's
    output before and after its activation on the batch, and the largest kernel's
    statistics as diagnose takes them (a float64 copy, and its deviations from the
    mean)."""
    w = cfg.model.widths()
    need = Need("inspect").add(parameters(cfg) * FLOAT, "the model", HIDDEN)
    need.add(parameters(cfg) * FLOAT, "its gradients", HIDDEN)
    need.add(2 * FLOAT * batch * sum(w), f"the signal of {batch} images", "--batch")
    largest = max(a * b for a, b in zip(w, w[1:]))
    need.add(2 * 8 * largest, "the largest kernel's statistics in float64", HIDDEN)
    return need.add(WORKING, "TensorFlow")


def check(need: Need) -> None:
    """Refuse `need` if it is more than is free, naming the numbers and what reduces the
    largest parts. Not where TensorFlow computes on a GPU: its memory is not this."""
    free = available()
    if free is None or need.total <= free or gpu():
        return
    shown = [f"{_gb(b)} for {text}" for b, text, _ in need.parts if b >= 0.05 * need.total]
    knobs = [k for b, _, ks in need.parts if b >= 0.2 * need.total for k in ks]
    reduce = f"; reduce {_either(list(dict.fromkeys(knobs)))}" if knobs else ""
    raise OutOfMemoryError(
        f"{need.what} needs at least {_gb(need.total)} of memory and {_gb(free)} is free "
        f"({', '.join(shown)}){reduce}"
    )


def available(cgroup: list[tuple[str, str]] | None = None) -> int | None:
    """Bytes this process can still use: MemAvailable plus SwapFree (/proc/meminfo), or
    what its cgroup's limit leaves if that is less (`cgroup`: its (limit, use) files,
    CGROUP if None); None where neither is known. $INITCMP_FREE_MEMORY, where set, is
    the answer instead, a number of bytes or `unknown` (None): how the tests give a
    command a machine of any size."""
    import os

    told = os.environ.get("INITCMP_FREE_MEMORY")
    if told:
        return None if told == "unknown" else int(float(told))
    info = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info[key] = int(value.split()[0]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    free = info["MemAvailable"] + info.get("SwapFree", 0) if "MemAvailable" in info else None
    room = _cgroup_room(CGROUP if cgroup is None else cgroup)
    return room if free is None else free if room is None else min(free, room)


# A cgroup's memory limit and use: v2, then v1 (as a container sees its own cgroup).
CGROUP = [
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
]


def _cgroup_room(cgroup: list[tuple[str, str]]) -> int | None:
    """What the memory limit of this process's cgroup leaves; None if it has none."""
    for limit_path, used_path in cgroup:
        try:
            with open(limit_path) as limit, open(used_path) as used:
                text, current = limit.read().strip(), int(used.read())
        except (OSError, ValueError):
            continue
        if text.isdigit() and int(text) < 1 << 60:  # v2 says "max"; v1 a huge number
            return max(0, int(text) - current)
    return None


def gpu() -> bool:
    """Whether the loaded TensorFlow computes on a GPU."""
    tf = sys.modules.get("tensorflow")
    return bool(tf and tf.config.list_physical_devices("GPU"))


def as_error(exc: BaseException) -> OutOfMemoryError | None:
    """TensorFlow's ResourceExhaustedError or Python's MemoryError as one line: what did
    not fit and what to reduce. None for any other exception."""
    tf = sys.modules.get("tensorflow")
    if isinstance(exc, MemoryError):
        what = first_line(exc)  # numpy: "Unable to allocate 3.35 GiB for an array with ..."
    elif tf is not None and isinstance(exc, tf.errors.ResourceExhaustedError):
        what = _tensor(str(exc))
    else:
        return None
    return OutOfMemoryError(f"out of memory: {what}; reduce {REDUCE}")


_OOM = re.compile(r"OOM when allocating tensor with shape\s*\[([\d, ]*)\] and type (\w+)")
_DTYPE_BYTES = {"float": 4, "double": 8, "half": 2, "bfloat16": 2, "int32": 4, "int64": 8}


def _tensor(message: str) -> str:
    """TensorFlow's "OOM when allocating tensor with shape[30000,30000] and type float on
    .../device:CPU:0 ..." as "could not allocate a float tensor of shape [30000, 30000]
    (3.6 GB) on the CPU"."""
    found = _OOM.search(message)
    if not found:
        return first_line(Exception(message))
    shape = [int(d) for d in found[1].replace(" ", "").split(",") if d]
    dtype = found[2]
    size = math.prod(shape) * _DTYPE_BYTES[dtype] if dtype in _DTYPE_BYTES else None
    nbytes = f" ({_gb(size)})" if size is not None else ""
    device = " on the GPU" if "GPU" in message else " on the CPU" if "CPU" in message else ""
    return f"could not allocate a {dtype} tensor of shape {shape}{nbytes}{device}"


def _gb(nbytes: float) -> str:
    gb = nbytes / 1e9
    return f"{gb:.0f} GB" if gb >= 100 else f"{gb:.1f} GB" if gb >= 1 else f"{gb:.2f} GB"


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
