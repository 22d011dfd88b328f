"""Why an initializer wins: the signal inside a network, layer by layer.

`inspect(cfg, dataset)` builds the run's model exactly as training does (same per-layer
seeds; LSUV applied), passes one batch of training images forward and back (by default
the run's own first batch, so the gradients are its first step's), and measures, per
Dense layer:

  fan_in, fan_out          the kernel's shape
  weight_std               measured, beside expected_weight_std from the formula
  activation_mean, _std    of the layer's output after its nonlinearity (logits last)
  dead_fraction            ReLU units that are 0 for every image of the batch
  saturated_fraction       tanh/sigmoid outputs where the slope is under 5 % of its peak
  gradient_std             of d(loss)/d(kernel)
  predicted_activation_std and predicted_gradient_std: what mean-field theory predicts
                           (analysis/predict.py; the gradient anchored at the logits layer's)

Glorot & Bengio (2010) and He et al. (2015) chose their variances so that the
activations' and gradients' size survives each layer; `findings` says in words whether
it does here. inf and NaN are values like any other: reported, never raised.
engine/tensorboard.py writes the same measures to TensorBoard during training (`log.histograms`).
"""

from __future__ import annotations

import math

import numpy as np

from initcmp.engine import batches
from initcmp.engine import lsuv
from initcmp.engine import measure
from initcmp.engine import memory
from initcmp.engine import models
from initcmp.analysis import predict
from initcmp.store import records
from initcmp.engine import runtime
from initcmp.config.schema import Config
from initcmp.data.sources import Dataset

# A signal that changes size more than this across the hidden layers is flagged...
_DRIFT = 10.0
# ...and so is one that would across this many (the deep network of
# docs/science/inspect.md), so that a per-layer factor gets the same verdict at any depth.
_DEPTH = 20
# Within this factor across _DEPTH layers the signal "keeps its size"; between it and
# _DRIFT it "grows" or "shrinks slowly".
_KEPT = 3.0


def inspect(cfg: Config, dataset: Dataset, batch: int | None = None) -> dict:
    """The run's freshly initialized model, measured on one batch (see the module doc)."""
    runtime.tensorflow()
    memory.check(memory.inspecting(cfg, batch or cfg.train.batch_size))
    model = models.build_model(cfg)
    lsuv_log = lsuv.apply(model, cfg, dataset) if cfg.init.name == "lsuv" else None
    x, y = batches.first_rows(dataset, cfg.seed, batch or cfg.train.batch_size)
    layers, loss = measure.measure(model, cfg, x, y)
    kernels = [layer.kernel.numpy() for layer in models.dense_layers(model)]
    _predict(cfg, layers, float(np.mean(np.square(x, dtype=np.float64))), kernels)
    return {
        "init": cfg.init.name,
        "params": dict(cfg.init.params),
        "seed": cfg.seed,
        "activation": cfg.model.activation,
        "hidden": list(cfg.model.hidden),
        "batch": int(len(x)),
        "data": dataset.source,
        "loss": loss,
        "layers": layers,
        "findings": findings(layers, cfg.model.activation) + theory_findings(layers),
        "lsuv": lsuv_log,
    }


# --- words ---------------------------------------------------------------------------


def _predict(cfg: Config, layers: list[dict], second: float, kernels: list) -> None:
    """Each layer's predicted_activation_std and predicted_gradient_std (None where the
    theory has nothing to say, e.g. zero weights)."""
    shapes = [(r["fan_in"], r["fan_out"]) for r in layers]
    data_dependent = kernels if cfg.init.name == "lsuv" else None
    rows = predict.layers(cfg, second, shapes, data_dependent) or [None] * len(layers)
    top = layers[-1]["gradient_std"]
    for row, theory in zip(layers, rows):
        row["predicted_activation_std"] = theory and theory["activation_std"]
        row["predicted_gradient_std"] = theory and theory["gradient_ratio"] * top


def theory_findings(layers: list[dict], tolerance: float = 1.25) -> list[str]:
    """Where measurement and theory part (by more than `tolerance`x), and why they may."""
    pairs = [(r, r["activation_std"], r.get("predicted_activation_std")) for r in layers[:-1]]
    pairs = [
        (r, m, p) for r, m, p in pairs if p and math.isfinite(m) and math.isfinite(p) and m > 0
    ]
    if not pairs:
        return []
    worst = max(pairs, key=lambda t: abs(math.log(t[1] / t[2])))
    row, measured, predicted = worst
    if abs(math.log(measured / predicted)) <= math.log(tolerance):
        off = max(abs(m / p - 1) for _, m, p in pairs)
        return [
            f"mean-field theory predicts every hidden layer's activation std: the "
            f"measured ones are within {off:.1%} of it"
        ]
    why = (
        "the first layer sees images, whose pixels are neither independent nor Gaussian"
        if row is layers[0]
        else f"the theory is exact for infinitely wide layers: at width {row['fan_in']} each "
        "layer's signal fluctuates around it and the errors compound with depth"
    )
    return [
        f"{row['name']}: measured activation std {number(measured)} against the theory's "
        f"{number(predicted)} (x{measured / predicted:.3g}): {why}"
    ]


def findings(layers: list[dict], activation: str) -> list[str]:
    """What the numbers say, one sentence each, most important first."""
    hidden, out = layers[:-1], []
    same = next((r for r in layers if r["weight_std"] == 0), None)
    if same is not None:
        out.append(
            f"{same['name']}: every weight is the same (std 0): the layer's units "
            "compute the same thing and get the same update, so they stay copies"
        )
    broken = next((r for r in layers if not math.isfinite(r["activation_std"])), None)
    if broken is not None:
        out.append(
            f"{broken['name']}: the activations overflow to {number(broken['activation_std'])}: "
            "the signal explodes, each layer multiplying its size until float32 runs "
            "out; training from here gives NaN"
        )
    elif len(hidden) >= 2 and hidden[0]["activation_std"] > 0 <= hidden[-1]["activation_std"]:
        out.append(_signal(hidden))
    grads = [r["gradient_std"] for r in layers]
    if not all(math.isfinite(g) for g in grads):
        bad = next(r for r in layers if not math.isfinite(r["gradient_std"]))
        out.append(f"{bad['name']}: the weight gradient is {number(bad['gradient_std'])}")
    elif grads[-1] > 0 and grads[0] == 0:
        out.append(
            f"{layers[0]['name']}: the weight gradient is exactly 0: the first layer cannot learn"
        )
    elif grads[-1] > 0 and len(layers) >= 3:
        with np.errstate(over="ignore"):  # a ratio past float64 reads as inf
            if grads[0] * _DRIFT**2 < grads[-1]:
                out.append(
                    f"the first layer's weight gradient is "
                    f"{np.float64(grads[-1]) / grads[0]:.3g}x smaller than the last "
                    "layer's: gradients vanish on the way back and the early layers "
                    "barely learn"
                )
            elif grads[0] > grads[-1] * _DRIFT**2:
                out.append(
                    f"the first layer's weight gradient is "
                    f"{np.float64(grads[0]) / grads[-1]:.3g}x the last layer's: "
                    "gradients grow on the way back"
                )
    for key, what in (
        (
            "dead_fraction",
            "of its ReLU units are dead on this batch (0 for "
            "every image): they pass no signal and get no gradient",
        ),
        (
            "saturated_fraction",
            f"of its {activation} outputs are saturated "
            "(slope under 5 % of its peak): they pass almost no gradient",
        ),
    ):
        worst = max((r for r in hidden if r[key] is not None), key=lambda r: r[key], default=None)
        if worst is not None and worst[key] >= 0.5:
            grow = any("gradients grow" in line for line in out)
            also = "; the few that do, through weights this large, still add up" if grow else ""
            out.append(f"{worst['name']}: {worst[key]:.0%} {what}{also}")
    logits = layers[-1]["activation_std"]
    if math.isfinite(logits) and logits > 10:
        out.append(
            f"the logits' std is {number(logits)}: the softmax starts saturated, far "
            "from the uniform guess (loss ln 10 = 2.30)"
        )
    for r in layers:
        expected = r["expected_weight_std"]
        if expected and abs(r["weight_std"] / expected - 1) > 0.1:
            out.append(
                f"{r['name']}: weight std {number(r['weight_std'])} differs from the "
                f"formula's {number(expected)} by more than 10 %"
            )
    return out


def _signal(hidden: list[dict]) -> str:
    """How the activation std changes with depth, judged by its per-layer factor across
    `_DEPTH` layers (or this network's depth, if deeper): x0.7 per layer is harmless
    across 2 layers and fatal across 20, and the sentence says both."""
    first, last = hidden[0]["activation_std"], hidden[-1]["activation_std"]
    n, per = len(hidden), (last / first) ** (1 / (len(hidden) - 1))
    with np.errstate(over="ignore"):  # past float64 reads as inf
        deep = np.float64(per) ** (max(n, _DEPTH) - 1)
    trend = (
        f"activation std goes from {number(first)} at {hidden[0]['name']} to "
        f"{number(last)} at {hidden[-1]['name']} (x{per:.3g} per layer)"
    )
    if 1 / _KEPT <= deep <= _KEPT:
        at_depth = f" (x{number(deep)} at {_DEPTH} layers)" if n < _DEPTH else ""
        return f"{trend}: the signal keeps its size through the layers{at_depth}"
    if 1 / _DRIFT <= deep <= _DRIFT:  # changes, but by less than _DRIFT over _DEPTH layers
        way = "grows" if deep > 1 else "shrinks"
        return (
            f"{trend}: the signal {way} slowly, x{number(deep)} across {max(n, _DEPTH)} "
            f"layers (under the x{_DRIFT:g} that would flag it)"
        )
    # how many layers it takes to halve or double, where "x0.7 per layer" is not plain
    steps = round(math.log(2) / abs(math.log(per))) if 0.5 < per < 2 else 0
    word = "halves" if per < 1 else "doubles"
    rate = f"{word} about every {steps} layers and " if steps > 1 else ""
    if last / first < 1 / _DRIFT:
        return (
            f"{trend}: the signal {rate}vanishes with depth; the last layers see almost "
            "nothing of the image"
        )
    if last / first > _DRIFT:
        return f"{trend}: the signal {rate}explodes with depth"
    fate = "vanish" if per < 1 else "explode"
    return (
        f"{trend}: at that rate the signal {rate}would {fate} by {_DEPTH} layers "
        f"(x{number(deep)}), though not across these {n}"
    )


def number(value) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)  # inf, -inf, nan
    return f"{value:.3g}"


# --- output --------------------------------------------------------------------------


def to_json(results: list[dict]) -> dict:
    """One result as itself, several as {"inits": [...]}; inf and NaN as the strings
    "inf", "-inf" and "nan" (JSON has no such numbers)."""
    results = [records.json_safe(r, nonfinite=str) for r in results]
    return results[0] if len(results) == 1 else {"inits": results}


# The fraction column counts dead ReLU units or saturated tanh/sigmoid outputs; other
# activations have neither, and no such column.
_FRACTION = {"relu": "dead %", "tanh": "sat %", "sigmoid": "sat %"}


def columns(result: dict) -> list[str]:
    """The terminal table's headers (short: the table fits 80 columns)."""
    fraction = _FRACTION.get(result["activation"])
    theory = _has_theory(result)
    head = ["layer", "fan in→out", "weight std\n(formula)", "act mean", "act std"]
    head += [THEORY_ACT] if theory else []
    return (
        head + ([fraction] if fraction else []) + ["grad std"] + ([THEORY_GRAD] if theory else [])
    )


# The theory's columns (left out, with act mean and fan in→out, where the terminal is narrow).
THEORY_ACT, THEORY_GRAD = "act std\n(theory)", "grad std\n(theory)"


def _has_theory(result: dict) -> bool:
    return any(r.get("predicted_activation_std") is not None for r in result["layers"])


def table_rows(result: dict) -> list[list[str]]:
    """The terminal table's cells, under `columns(result)`."""
    has_fraction, theory = result["activation"] in _FRACTION, _has_theory(result)
    rows = []
    for r in result["layers"]:
        fraction = r["dead_fraction"] if r["dead_fraction"] is not None else r["saturated_fraction"]
        row = [
            r["name"],
            f"{r['fan_in']}→{r['fan_out']}",
            f"{number(r['weight_std'])} ({number(r['expected_weight_std'])})",
            number(r["activation_mean"]),
            number(r["activation_std"]),
        ] + ([number(r["predicted_activation_std"])] if theory else [])
        if has_fraction:
            row.append("-" if fraction is None else f"{100 * fraction:.0f}")
        row.append(number(r["gradient_std"]))
        rows.append(row + ([number(r["predicted_gradient_std"])] if theory else []))
    return rows
