"""What an experiment config is: frozen dataclasses, each field's meaning and checks.

The defaults below are the notebook's experiment (docs/guides/configs.md). How a config is
made from defaults, a YAML file, flags and `--set` items is config/resolve.py, and the value
checks every source goes through are config/checks.py; this module holds the shape, the
rules each field's values obey, and the ways out (a plain dict, YAML, the keys that
identify a run). No TensorFlow here: config errors are instant.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from initcmp.inits import parametrizations, registry
from initcmp.config import run_names

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "linear")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
DATASETS = ("mnist", "synthetic")


def _check(**rules: Any) -> dict:
    """Field metadata: `ge`/`gt` lower bounds, `choices` for strings, `initializer` for
    initializer names (any alias, in the registry's name; a list: `all`, each once)."""
    return {"rules": rules}


# The task: MNIST's 28 x 28 images, flattened, in; its 10 classes out.
IMAGE_PIXELS = 28 * 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class DataConfig:
    # mnist, or synthetic: 3,000/1,000 generated 28x28 images, for tests
    name: str = field(default="mnist", metadata=_check(choices=DATASETS))
    # an mnist.npz or a folder of the four IDX files (gzipped or not); null: find it offline
    # (docs/guides/configs.md, "Data"); given and wrong, it is an error
    path: str | None = None
    # train on the first N images only; null: all of them
    train_limit: int | None = field(default=None, metadata=_check(ge=1))


@dataclass(frozen=True)
class ModelConfig:
    # hidden layer sizes, input side first
    hidden: tuple[int, ...] = field(default=(256, 256), metadata=_check(ge=1))
    # activation of every hidden layer
    activation: str = field(default="relu", metadata=_check(choices=ACTIVATIONS))
    # Shorthands for `hidden`, which they replace when given: `depth` layers of `width`
    # units (an unset one comes from `hidden`; `depth` alone on a `hidden` of unequal sizes
    # is an error). Resolved at load (resolve._model): a loaded config has its layers in
    # `hidden` and these two null, so both spellings are one run.
    depth: int | None = field(default=None, metadata=_check(ge=1))
    width: int | None = field(default=None, metadata=_check(ge=1))
    # How each layer's init scale, forward multiplier and learning rate follow the width
    # (inits/parametrizations.py has the table): standard (Keras' network as it is), ntk
    # (Yang & Hu 2021) or mup (maximal update, Tensor Programs V; microsoft/mup)
    parametrization: str = field(
        default="standard", metadata=_check(choices=parametrizations.PARAMETRIZATIONS)
    )
    # The width at which ntk and mup are the standard network, bit for bit (mup's base
    # shapes); needed by ntk and mup, unused by standard
    base_width: int | None = field(default=None, metadata=_check(ge=1))

    def widths(self) -> list[int]:
        """Every layer's width, the input (a flattened image) first and the logits last."""
        return [IMAGE_PIXELS, *self.hidden, NUM_CLASSES]

    def weights(self) -> int:
        """The kernels' entries: what a training step's arithmetic grows with, for the
        time a sweep has left (report/progress.py)."""
        sizes = self.widths()
        return sum(a * b for a, b in zip(sizes, sizes[1:]))


@dataclass(frozen=True)
class InitConfig:
    """The initial weights: `init: {name: random, stddev: 1.0, bias_variance: 0.05}` in
    YAML, the kernels' initializer, its parameters and the biases' variance side by side
    (config/resolve.py has the rules for making one)."""

    # an initializer of registry.REGISTRY (`initcmp inits`), or one of its aliases
    name: str = "he"
    # that initializer's parameters, every one explicit (defaults filled in), read-only
    params: Mapping[str, Any] = field(
        default_factory=lambda: types.MappingProxyType(registry.default_params("he"))
    )
    # σ_b²: every Dense bias drawn from N(0, σ_b²), untruncated, seeded per layer apart from
    # its kernel (engine/models.py); 0: zeros. A property of the network's biases, not of
    # the initializer: kept when the name changes; written to a config only when nonzero.
    bias_variance: float = field(default=0.0, metadata=_check(ge=0))
    # The readout (logits) kernel: `init`, drawn by the initializer like the others, or
    # `zero`, as microsoft/mup recommends for μP (its readout_zero_init). Kept, like the
    # bias variance, when the name changes.
    readout: str = field(default="init", metadata=_check(choices=("init", "zero")))

    def as_dict(self) -> dict:
        """The YAML form: the parameters beside the name, not under `params`; the bias
        variance only when nonzero and the readout only when zero, so every other run's
        config.yaml is as it was."""
        biases = {"bias_variance": self.bias_variance} if self.bias_variance else {}
        readout = {"readout": self.readout} if self.readout != "init" else {}
        return {"name": self.name, **dict(self.params), **biases, **readout}


@dataclass(frozen=True)
class TrainConfig:
    # epochs; more than a finished run had resumes and trains it further
    epochs: int = field(default=1, metadata=_check(ge=1))
    # a budget in steps instead, which wins over `epochs` when given (the last epoch may
    # end part-way); more than a finished run had trains it further, like epochs
    steps: int | None = field(default=None, metadata=_check(ge=1))
    # batch size; every example is used each epoch (the last batch may be smaller)
    batch_size: int = field(default=128, metadata=_check(ge=1))
    # the optimizer's learning rate
    learning_rate: float = field(default=0.001, metadata=_check(gt=0))
    # the Keras optimizer
    optimizer: str = field(default="adam", metadata=_check(choices=OPTIMIZERS))

    def total_steps(self, train_size: int) -> int:
        """The run's budget in steps: `steps`, else `epochs` whole epochs."""
        return self.steps or math.ceil(train_size / self.batch_size) * self.epochs

    @property
    def budget(self) -> str:
        """The budget in words: `300 steps`, `1 epoch`."""
        n, unit = (self.steps, "step") if self.steps else (self.epochs, "epoch")
        return f"{n:,} {unit}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class EvalConfig:
    # test evaluation every N steps and at each epoch's end; null: once per epoch
    every_steps: int | None = field(default=100, metadata=_check(ge=1))
    # most test images per evaluation call (fewer for a large stack: at most 10,000 run x
    # image rows a call; the numbers are the same either way)
    batch_size: int = field(default=10000, metadata=_check(ge=1))
    # With each test evaluation, the loss and accuracy on the first N training images
    # (the same images for every run and seed): `train_set_accuracy`, what the published
    # trainability diagrams plot. 0: none.
    train_images: int = field(default=1000, metadata=_check(ge=0))
    # A test evaluation before the first step: TensorBoard's first test point (never a
    # metrics.jsonl row; it changes no weight). false: none (a sweep's table never reads it)
    at_start: bool = True


@dataclass(frozen=True)
class CheckpointConfig:
    # checkpoint every N steps (also at each epoch's end and on Ctrl-C); null: not by steps
    every_steps: int | None = field(default=200, metadata=_check(ge=1))
    # newest checkpoints kept per run
    keep: int = field(default=3, metadata=_check(ge=1))


@dataclass(frozen=True)
class LogConfig:
    # train loss and accuracy to TensorBoard and the progress bar every N steps
    every_steps: int = field(default=10, metadata=_check(ge=1))
    # Per-layer weight and activation histograms, activation and gradient std, to
    # TensorBoard at initialization and each epoch's end, on the run's first batch
    # (analysis/diagnose.py). Training is unchanged, to the bit.
    histograms: bool = False


@dataclass(frozen=True)
class CompareConfig:
    # the initializers a comparison runs (aliases allowed, each runs once; [all]: every one)
    inits: tuple[str, ...] = field(
        default=("random", "glorot", "he"), metadata=_check(initializer=True)
    )
    # the seeds a comparison (and a sweep) runs, each with every initializer; `--seeds N`: 0..N-1
    seeds: tuple[int, ...] = field(default=(0, 1, 2), metadata=_check(ge=0))
    # train the runs together in one compiled step (the same bits); false: one by one
    fuse: bool = True
    # local, or ray: the runs as Ray tasks (experiments/on_ray.py); `--executor`
    executor: str = field(default="local", metadata=_check(choices=("local", "ray")))
    # local executor: processes that train stacks at once (experiments/workers.py; the same
    # bits); null: a sweep estimated to train for over a minute takes one a core, as many
    # as it has stacks and memory allows; a shorter sweep and a comparison train in the
    # command's own process
    workers: int | None = field(default=None, metadata=_check(ge=1))


@dataclass(frozen=True)
class SweepConfig:
    """What `initcmp sweep` runs (config/grid.py): every combination of the grid's values, each
    with every seed of `compare.seeds`."""

    # {dotted key: [values]} or a range {dotted key: "START:STOP:STEP"} (STOP included),
    # "START:STOP" or "START:STOP:*FACTOR"; any key but name, seed, compare.*, sweep.*,
    # ray.*. Its keys name the runs' folders (Config.run_name), so a sweep's runs are
    # found again (docs/guides/sweeps.md)
    grid: Mapping[str, tuple] = field(default_factory=lambda: types.MappingProxyType({}))


@dataclass(frozen=True)
class CoordCheckConfig:
    """What `initcmp coord-check` measures (engine/coord_check.py): the network at each
    width, trained on one fixed batch, each seed of `compare.seeds` (mup's coord check)."""

    # the hidden widths, every hidden layer that wide (model.hidden's depth is kept)
    widths: tuple[int, ...] = field(default=(128, 256, 512, 1024, 2048), metadata=_check(ge=1))
    # training steps after initialization: a panel for each t = 0..steps
    steps: int = field(default=3, metadata=_check(ge=1))


@dataclass(frozen=True)
class RayConfig:
    """`compare.executor: ray` (experiments/on_ray.py)."""

    # a Ray cluster to join (`--address HOST:PORT`); null: a local instance for the command
    address: str | None = None
    # CPUs of that local instance; null: all
    num_cpus: int | None = field(default=None, metadata=_check(ge=1))
    # CPUs and GPUs each task declares to Ray's scheduler
    cpus_per_task: int = field(default=1, metadata=_check(ge=1))
    gpus_per_task: float = field(default=0.0, metadata=_check(ge=0))
    # times a task is retried when its worker dies (killed, out of memory, node lost)
    retries: int = field(default=2, metadata=_check(ge=0))


@dataclass(frozen=True)
class Config:
    # experiment name: runs live in `<dir>/<name>/<init>-s<seed>/` (a sweep's run is led by
    # its values of the grid's keys: `<dir>/<name>/scale=1.5,depth=20,<init>-s<seed>@<digest>/`)
    name: str = "mnist_mlp"
    # run seed: initial weights (each layer seeded from seed and layer index), data order
    seed: int = field(default=0, metadata=_check(ge=0))
    data: DataConfig = DataConfig()  # which images
    model: ModelConfig = ModelConfig()  # the MLP
    init: InitConfig = InitConfig()  # its weight initializer
    train: TrainConfig = TrainConfig()  # the optimisation
    eval: EvalConfig = EvalConfig()  # test evaluation cadence
    checkpoint: CheckpointConfig = CheckpointConfig()  # checkpoint cadence
    log: LogConfig = LogConfig()  # TensorBoard logging
    compare: CompareConfig = CompareConfig()  # what `initcmp compare` runs
    sweep: SweepConfig = SweepConfig()  # what `initcmp sweep` runs
    coord_check: CoordCheckConfig = CoordCheckConfig()  # what `initcmp coord-check` measures
    ray: RayConfig = RayConfig()  # where, with `compare.executor: ray`

    def layer_scalings(self) -> list[parametrizations.LayerScaling]:
        """Each Dense layer's init factor, forward multiplier and learning-rate factors
        under `model.parametrization` (all 1 for standard)."""
        return parametrizations.scalings(
            self.model.parametrization,
            self.model.widths(),
            self.model.base_width,
            self.train.optimizer,
            zero_readout=self.init.readout == "zero",
        )

    @functools.cached_property  # a sweep's plan asks it of each run many times
    def run_name(self) -> str:
        """The run folder's name; it never changes between reruns, so reruns resume:
        `he-s0`. A sweep's run is led by its values of the grid's keys and ends with a
        digest of every setting that makes it the run it is (`run_identity`, but the
        seed): `scale=1.5,depth=20,he-s0@3f9a1c2e`. Two sweeps that differ in a fixed
        setting (the optimizer, the width) so never share a folder, and a run that two
        sweeps over the same keys both plan is one folder, trained once."""
        label = run_names.label(self)
        name = ",".join([*label, f"{self.init.name}-s{self.seed}"])
        if not label:  # a comparison's run, or a sweep over init.name alone
            return name
        identity = {k: v for k, v in run_identity(self).items() if k != "seed"}
        return f"{name}@{run_names.digest(identity)}"


# Keys whose change makes a different run: resuming across such a change is refused.
# Epochs may grow (train further); eval, checkpoint and log cadence change no weight.
RUN_KEYS = (
    "seed",
    "data.name",
    "data.train_limit",
    "model",
    "init",
    "train.batch_size",
    "train.learning_rate",
    "train.optimizer",
)


# --- naming keys -------------------------------------------------------------------------


def suggest(dotted: str) -> str:
    """` (did you mean 'train.epochs'?)` for a mistyped dotted key, or ``."""
    close = difflib.get_close_matches(dotted, all_keys(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@functools.cache
def all_keys() -> tuple[str, ...]:
    """Every dotted key of a config but the initializer's parameters, which vary."""
    return tuple(_all_keys(Config, ""))


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """A config dataclass's fields' types, resolved once (typing.get_type_hints is slow,
    and planning a sweep builds a config per cell)."""
    return typing.get_type_hints(cls)


def _all_keys(cls: type, prefix: str) -> list[str]:
    keys = []
    hints = field_types(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and hint is not InitConfig:  # init's keys vary
            keys += _all_keys(hint, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


# --- writing -------------------------------------------------------------------------


def to_dict(cfg: Any) -> dict:
    """A plain nested dict (lists, not tuples) that `resolve.from_dict` reads back."""
    if isinstance(cfg, InitConfig):
        return cfg.as_dict()
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif isinstance(value, Mapping):  # sweep.grid: {key: [values]}
            out[f.name] = {k: list(v) for k, v in value.items()}
        else:
            out[f.name] = value
    return out


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def run_identity(cfg: Config) -> dict:
    """The values of RUN_KEYS, flattened to dotted keys, for comparing two runs (the
    bias variance always, 0 too, which the written config leaves out). The width keys
    only for a parametrization other than standard: a standard run's identity, and so
    its sweep folder's digest, is what it was before parametrizations existed."""
    sections = {k.split(".")[0] for k in RUN_KEYS}  # only these are written out
    raw = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name in sections}
    raw = {k: to_dict(v) if dataclasses.is_dataclass(v) else v for k, v in raw.items()}
    flat = {**flatten(raw), "init.bias_variance": cfg.init.bias_variance}
    if cfg.model.parametrization == "standard":
        flat = {k: v for k, v in flat.items() if k not in WIDTH_KEYS}
    return {k: v for k, v in flat.items() if any(k == r or k.startswith(r + ".") for r in RUN_KEYS)}


# The width keys, which a standard run's identity (and a sweep's name) leaves out, so that
# every name made before parametrizations existed is the same.
WIDTH_KEYS = ("model.parametrization", "model.base_width")


def flatten(raw: Mapping, prefix: str = "") -> dict:
    out = {}
    for key, value in raw.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
