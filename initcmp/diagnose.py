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

Glorot & Bengio (2010) and He et al. (2015) chose their variances so that the
activations' and gradients' size survives each layer; `findings` says in words whether
it does here. inf and NaN are values like any other: reported, never raised.
summaries.py writes the same measures to TensorBoard during training (`log.histograms`).
"""

from __future__ import annotations

import math

import numpy as np

from initcmp import batches, initializers, lsuv, models, records, runtime
from initcmp.config import Config
from initcmp.data import Dataset

# Where a unit's slope is under 5 % of its peak, from its output h.
_SATURATED = {"tanh": lambda h: 1.0 - h * h < 0.05, "sigmoid": lambda h: 4.0 * h * (1.0 - h) < 0.05}
# A signal that changes size more than this across the hidden layers is flagged.
_DRIFT = 10.0


def inspect(cfg: Config, dataset: Dataset, batch: int | None = None) -> dict:
    """The run's freshly initialized model, measured on one batch (see the module doc)."""
    runtime.tensorflow()
    model = models.build_model(cfg)
    lsuv_log = lsuv.apply(model, cfg, dataset) if cfg.init.name == "lsuv" else None
    x, y = batches.first_rows(dataset, cfg.seed, batch or cfg.train.batch_size)
    layers, loss = measure(model, cfg, x, y)
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
        "findings": findings(layers, cfg.model.activation),
        "lsuv": lsuv_log,
    }


def measure(model, cfg: Config, x: np.ndarray, y: np.ndarray) -> tuple[list[dict], float]:
    """Per-layer statistics of `model` on images `x` (n, 28, 28) in [0, 1] and labels
    `y`, and the batch's mean cross-entropy."""
    outputs, grads, loss = _forward_backward(model, cfg, x, y)
    return _rows(model, cfg, outputs, grads), loss


def measure_layers(model, cfg: Config, x: np.ndarray, y: np.ndarray) -> tuple[list[dict], list]:
    """Per-layer statistics of `model` on images `x` (n, 28, 28) in [0, 1] and labels
    `y`, with each layer's (pre, post) outputs."""
    outputs, grads, _ = _forward_backward(model, cfg, x, y)
    return _rows(model, cfg, outputs, grads), outputs


def _forward_backward(model, cfg: Config, x: np.ndarray, y: np.ndarray):
    """Each layer's (pre, post) outputs, each kernel's gradient, and the mean loss."""
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        outputs = models.forward(model, cfg.model.activation, x)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(
                tf.constant(y), outputs[-1][1], from_logits=True
            )
        )
    grads = tape.gradient(loss, [layer.kernel for layer in models.dense_layers(model)])
    return outputs, grads, float(loss.numpy())


def _rows(model, cfg: Config, outputs, grads) -> list[dict]:
    dense = models.dense_layers(model)
    saturated = _SATURATED.get(cfg.model.activation)
    rows = []
    for i, (layer, (_, post), grad) in enumerate(zip(dense, outputs, grads)):
        hidden = i < len(dense) - 1
        kernel = layer.kernel.numpy()
        h = post.numpy().astype(np.float64)
        finite = bool(np.isfinite(h).all())
        fan_in, fan_out = kernel.shape
        rows.append(
            {
                "name": layer.name,
                "fan_in": int(fan_in),
                "fan_out": int(fan_out),
                "weight_std": _std(kernel),
                "expected_weight_std": initializers.expected_std(
                    cfg.init.name, cfg.init.params, fan_in, fan_out
                ),
                "activation_mean": _mean(h),
                "activation_std": _std(h),
                "dead_fraction": (
                    float(np.mean(np.all(h <= 0, axis=0)))
                    if hidden and finite and cfg.model.activation == "relu"
                    else None
                ),
                "saturated_fraction": (
                    float(np.mean(saturated(h))) if hidden and finite and saturated else None
                ),
                "gradient_std": _std(grad.numpy()),
            }
        )
    return rows


def _std(values) -> float:
    """The std in float64; inf if any value is inf, NaN if any is NaN."""
    a = np.asarray(values, np.float64)
    if np.isnan(a).any():
        return math.nan
    if np.isinf(a).any():
        return math.inf
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.std(a))


def _mean(values) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.mean(np.asarray(values, np.float64)))


# --- words ---------------------------------------------------------------------------


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
    elif len(hidden) >= 2 and hidden[0]["activation_std"] > 0:
        first, last = hidden[0]["activation_std"], hidden[-1]["activation_std"]
        ratio = last / first
        per = ratio ** (1 / (len(hidden) - 1))
        trend = (
            f"activation std goes from {number(first)} at {hidden[0]['name']} to "
            f"{number(last)} at {hidden[-1]['name']} (x{per:.3g} per layer)"
        )
        if ratio > _DRIFT:
            out.append(f"{trend}: the signal explodes with depth")
        elif ratio < 1 / _DRIFT:
            out.append(
                f"{trend}: the signal vanishes with depth; the last layers see "
                "almost nothing of the image"
            )
        else:
            out.append(f"{trend}: the signal keeps its size through the layers")
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
            out.append(f"{worst['name']}: {worst[key]:.0%} {what}")
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
    results = [records.clean(r, nonfinite=str) for r in results]
    return results[0] if len(results) == 1 else {"inits": results}


COLUMNS = [
    "layer",
    "fan in→out",
    "weight std (formula)",
    "act mean",
    "act std",
    "dead/sat %",
    "grad std",
]


def table_rows(result: dict) -> list[list[str]]:
    rows = []
    for r in result["layers"]:
        fraction = r["dead_fraction"] if r["dead_fraction"] is not None else r["saturated_fraction"]
        rows.append(
            [
                r["name"],
                f"{r['fan_in']}→{r['fan_out']}",
                f"{number(r['weight_std'])} ({number(r['expected_weight_std'])})",
                number(r["activation_mean"]),
                number(r["activation_std"]),
                "-" if fraction is None else f"{100 * fraction:.0f}",
                number(r["gradient_std"]),
            ]
        )
    return rows
