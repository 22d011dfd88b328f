"""The initializer registry: a name, its parameters, a builder over Keras' own classes,
the formula and the paper.

Nothing is re-derived: each builder returns a Keras initializer. What this module adds
is what Keras leaves implicit: every parameter is explicit (Keras' RandomNormal silently
uses stddev 0.05; the notebook's "random" was TF 1's default of 1.0), and every layer
gets its own seed (one seeded Keras instance reused across same-shaped layers gives
identical layers in Keras 3).

Formulas use the papers' definitions, for a Dense kernel of shape (fan_in, fan_out):
Glorot & Bengio (2010): Var = 2 / (fan_in + fan_out). He et al. (2015): Var = 2 / fan_in.
(The notebook's notes give He as 4 / (fan_in + fan_out), true only when fan_in = fan_out.)

`orthogonal` (and `lsuv`'s start) is Keras' Orthogonal with its QR done by
inits/orthogonal.py, the same bits on every machine (Keras' float32 QR is not).

`glorot`, `glorot_normal` and `orthogonal` take a `gain` (a number, or an activation's
name from GAINS), `he` and `he_normal` a `mode`. `lsuv` is data-dependent: the registry
builds its orthogonal start, and engine/lsuv.py rescales it on a batch before training.

Importing this module does not import TensorFlow or Keras; building does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from initcmp.inits import orthogonal
from initcmp.errors import ConfigError

# Keras' truncated normals cut at two standard deviations, which shrinks the std by this
# factor; Glorot/He/LeCun normal divide their parameter by it, plain TruncatedNormal doesn't.
TRUNCATION_STD = 0.87962566103423978


@dataclass(frozen=True)
class Param:
    default: Any
    rules: Mapping[str, Any] = field(default_factory=dict)


# The gain that keeps a signal's size through each activation, for `gain: <activation>`.
# relu: sqrt(2) (He et al. 2015); tanh: 5/3 (the value PyTorch's calculate_gain uses);
# sigmoid: 4, the factor on Glorot's uniform bound for sigmoid units (Glorot & Bengio
# 2010, as popularised by the Theano deep learning tutorial: sigmoid'(0) = 1/4).
GAINS = {"linear": 1.0, "relu": math.sqrt(2.0), "tanh": 5.0 / 3.0, "sigmoid": 4.0}
_GAIN = Param(1.0, {"gt": 0, "names": tuple(GAINS)})


def gain(value: float | str) -> float:
    """A `gain` parameter as a number: an activation's name is looked up in GAINS."""
    return GAINS[value] if isinstance(value, str) else float(value)


@dataclass(frozen=True)
class Spec:
    name: str
    formula: str
    reference: str
    build: Callable[[Mapping[str, Any], int], Any]  # (params, seed) -> keras initializer
    std: Callable[[Mapping[str, Any], int, int], float]  # (params, fan_in, fan_out) -> std
    params: Mapping[str, Param] = field(default_factory=dict)
    # Other libraries' names for this same distribution with the same defaults (Keras',
    # PyTorch's, the common ones): inits/aliases.py accepts them; the records never use them.
    aliases: tuple[str, ...] = ()


def _keras():
    import keras  # deferred: importing initcmp must not import TensorFlow

    return keras.initializers


def _scaled(scale: float, mode: str, distribution: str, seed: int):
    """Keras' VarianceScaling: GlorotUniform and HeUniform are this class with scale 1 and
    2, so gain 1 and mode fan_in give the same weights as those classes, bit for bit."""
    return _keras().VarianceScaling(scale=scale, mode=mode, distribution=distribution, seed=seed)


def _fan(mode: str, fan_in: int, fan_out: int) -> float:
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


GLOROT = (
    "Glorot & Bengio (2010), Understanding the difficulty of training deep feedforward "
    "neural networks"
)
HE = "He et al. (2015), Delving Deep into Rectifiers, arXiv:1502.01852"
LECUN = "LeCun et al. (1998), Efficient BackProp"

_SPECS = [
    Spec(
        "random",
        "N(mean, stddev^2), stddev 1.0 by default (TF 1's random_normal_initializer)",
        "the notebook's baseline; not scaled to the layer",
        lambda p, s: _keras().RandomNormal(mean=p["mean"], stddev=p["stddev"], seed=s),
        lambda p, fi, fo: p["stddev"],
        {"mean": Param(0.0), "stddev": Param(1.0, {"gt": 0})},
    ),
    Spec(
        "glorot",
        "U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)); Var = gain^2 2 / (fan_in + fan_out)",
        GLOROT,
        lambda p, s: _scaled(gain(p["gain"]) ** 2, "fan_avg", "uniform", s),
        lambda p, fi, fo: gain(p["gain"]) * math.sqrt(2 / (fi + fo)),
        {"gain": _GAIN},
        # TF 1's xavier_initializer (the notebook's "Xavier") was uniform too.
        aliases=("xavier", "xavier_uniform", "glorot_uniform"),
    ),
    Spec(
        "glorot_normal",
        "truncated N, std = gain sqrt(2 / (fan_in + fan_out))",
        GLOROT,
        lambda p, s: _scaled(gain(p["gain"]) ** 2, "fan_avg", "truncated_normal", s),
        lambda p, fi, fo: gain(p["gain"]) * math.sqrt(2 / (fi + fo)),
        {"gain": _GAIN},
    ),
    Spec(
        "he",
        "U(-a, a), a = sqrt(6 / n); Var = 2 / n, n = fan_in (or fan_out: mode)",
        HE,
        lambda p, s: _scaled(2.0, p["mode"], "uniform", s),
        lambda p, fi, fo: math.sqrt(2 / _fan(p["mode"], fi, fo)),
        {"mode": Param("fan_in", {"choices": ("fan_in", "fan_out")})},
        # PyTorch's kaiming_uniform_ defaults (a=0, fan_in) give this same bound.
        aliases=("kaiming", "kaiming_uniform", "he_uniform"),
    ),
    Spec(
        "he_normal",
        "truncated N, std = sqrt(2 / n), n = fan_in (or fan_out: mode)",
        HE,
        lambda p, s: _scaled(2.0, p["mode"], "truncated_normal", s),
        lambda p, fi, fo: math.sqrt(2 / _fan(p["mode"], fi, fo)),
        {"mode": Param("fan_in", {"choices": ("fan_in", "fan_out")})},
    ),
    Spec(
        "lecun_uniform",
        "U(-a, a), a = sqrt(3 / fan_in); Var = 1 / fan_in",
        LECUN,
        lambda p, s: _keras().LecunUniform(seed=s),
        lambda p, fi, fo: math.sqrt(1 / fi),
    ),
    Spec(
        "lecun_normal",
        "truncated N, std = sqrt(1 / fan_in)",
        LECUN,
        lambda p, s: _keras().LecunNormal(seed=s),
        lambda p, fi, fo: math.sqrt(1 / fi),
    ),
    Spec(
        "truncated_normal",
        "N(mean, stddev^2) cut at 2 stddev (so std = 0.88 stddev), stddev 0.05 by default",
        "Keras' TruncatedNormal",
        lambda p, s: _keras().TruncatedNormal(mean=p["mean"], stddev=p["stddev"], seed=s),
        lambda p, fi, fo: p["stddev"] * TRUNCATION_STD,
        {"mean": Param(0.0), "stddev": Param(0.05, {"gt": 0})},
    ),
    Spec(
        "random_uniform",
        "U(minval, maxval), -0.05 to 0.05 by default",
        "Keras' RandomUniform",
        lambda p, s: _keras().RandomUniform(minval=p["minval"], maxval=p["maxval"], seed=s),
        lambda p, fi, fo: (p["maxval"] - p["minval"]) / math.sqrt(12),
        {"minval": Param(-0.05), "maxval": Param(0.05)},
    ),
    Spec(
        "orthogonal",
        "gain x a random orthogonal matrix; std = gain / sqrt(max(fan_in, fan_out))",
        "Saxe et al. (2014), Exact solutions to the nonlinear dynamics of learning "
        "in deep linear neural networks",
        lambda p, s: orthogonal.initializer(gain(p["gain"]), s),
        lambda p, fi, fo: gain(p["gain"]) / math.sqrt(max(fi, fo)),
        {"gain": _GAIN},
    ),
    Spec(
        "lsuv",
        "orthogonal, then each layer in order scaled until its output variance "
        "on a batch of training images is 1 (within tol, at most max_iter times)",
        "Mishkin & Matas (2016), All you need is a good init, arXiv:1511.06422",
        lambda p, s: orthogonal.initializer(1.0, s),
        lambda p, fi, fo: None,  # data-dependent: no formula
        {
            "tol": Param(0.1, {"gt": 0}),
            "max_iter": Param(10, {"ge": 1}),
            "batch": Param(512, {"ge": 1}),
        },
    ),
    Spec(
        "zeros",
        "all weights 0 (a control: every unit in a layer stays identical)",
        "symmetry is never broken",
        lambda p, s: _keras().Zeros(),
        lambda p, fi, fo: 0.0,
    ),
    Spec(
        "variance_scaling",
        "Var = scale / n, n = fan_in, fan_out or their mean (mode); "
        "truncated normal, normal or uniform (distribution)",
        "Keras' VarianceScaling, the family Glorot, He and LeCun belong to",
        lambda p, s: _keras().VarianceScaling(
            scale=p["scale"], mode=p["mode"], distribution=p["distribution"], seed=s
        ),
        lambda p, fi, fo: math.sqrt(p["scale"] / _fan(p["mode"], fi, fo)),
        {
            "scale": Param(1.0, {"gt": 0}),
            "mode": Param("fan_in", {"choices": ("fan_in", "fan_out", "fan_avg")}),
            "distribution": Param(
                "truncated_normal",
                {"choices": ("truncated_normal", "untruncated_normal", "uniform")},
            ),
        },
    ),
]

REGISTRY: dict[str, Spec] = {spec.name: spec for spec in _SPECS}


def get(name: str) -> Spec:
    """The spec for `name`; an unknown name is an error that lists the valid ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown initializer {name!r}; valid names: {', '.join(REGISTRY)}"
        ) from None


def default_params(name: str) -> dict[str, Any]:
    """Every parameter of `name` at its default."""
    return {key: param.default for key, param in get(name).params.items()}


def check_params(name: str, params: Mapping[str, Any]) -> None:
    """Checks that span two parameters (one-parameter checks live in `Param.rules`)."""
    if name == "random_uniform" and params["minval"] >= params["maxval"]:
        raise ConfigError(
            f"'init.minval' ({params['minval']}) must be below 'init.maxval' ({params['maxval']})"
        )


# `init.bias_variance` belongs to no initializer: every one takes it (config/resolve.py's
# rule 4; engine/models.py draws the biases). `initcmp inits` says so in this one line.
BIASES = "every initializer takes bias_variance v, default 0: zero biases (else N(0, v))"


def derived_seed(*entropy: int) -> int:
    """THE seed derivation: a 31-bit seed from SeedSequence(entropy). A run's layers draw
    their kernels from (run seed, layer) and their biases from (run seed, layer, 1):
    other entropy, so every kernel and bias of every run is a draw of its own."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(1)[0] & 0x7FFFFFFF)


def layer_seed(seed: int, layer: int) -> int:
    """A layer's kernel seed, from the run seed and the layer index, never shared."""
    return derived_seed(seed, layer)


def build(name: str, params: Mapping[str, Any], seed: int, layer: int):
    """A fresh Keras initializer for one layer of a run."""
    return get(name).build(params, layer_seed(seed, layer))


def expected_std(name: str, params: Mapping[str, Any], fan_in: int, fan_out: int) -> float | None:
    """The weight std the formula predicts for a (fan_in, fan_out) kernel; None for a
    data-dependent initializer (lsuv)."""
    std = get(name).std(params, fan_in, fan_out)
    return None if std is None else float(std)
