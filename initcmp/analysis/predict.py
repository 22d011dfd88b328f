"""Mean-field theory (analysis/theory.py) applied to a configured network: each layer's σ_w² from
its initializer and shape, the first layer's q from the data, and, layer by layer, the
activation std and weight-gradient std the theory predicts, for `initcmp theory` and
beside `initcmp inspect`'s measurements.

The theory's network has W ~ N(0, σ_w²/fan_in) and b ~ N(0, σ_b²), so a layer's σ_w² is
Var(W)·fan_in: He's is 2, Glorot's 2·fan_in/(fan_in + fan_out) (1 between equal widths),
N(0, 1)'s is fan_in. LSUV's kernels depend on the data: its σ_w² is measured.

Per layer l (h^l its pre-activation, a^l = φ(h^l), a^0 the images):
  q^1 = σ_w²(1)·E[(a^0)²] + σ_b²,  q^l = σ_w²(l)·E[φ(√q^{l−1} z)²] + σ_b²
  activation std = std of φ(√q^l z) (of h^L itself for the logits);
  Var(δ^l) = E[φ'(√q^l z)²]·σ_w²(l+1)·fan_out(l+1)/fan_in(l+1)·Var(δ^{l+1}), δ = dL/dh;
  weight-gradient std of layer l ∝ √(E[(a^{l−1})²]·Var(δ^l)), anchored at the logits
  layer's measured gradient std (the loss's own gradient is not the theory's to predict).
"""

from __future__ import annotations

import math

import numpy as np

from initcmp.engine import batches
from initcmp.inits import registry
from initcmp.analysis import theory
from initcmp.config.schema import Config


def weight_variance(cfg: Config, fan_in: int, fan_out: int, kernel=None) -> float | None:
    """A layer's σ_w² = Var(W)·fan_in: the formula's, or the kernel's own (LSUV)."""
    std = registry.expected_std(cfg.init.name, cfg.init.params, fan_in, fan_out)
    if std is None and kernel is not None:
        std = float(np.std(np.asarray(kernel, np.float64)))
    # 12 digits: He's sqrt(2/n)² · n is 2.0000000000000004 in floats, which the theory
    # would place just inside the chaotic phase
    return None if std is None else float(f"{std * std * fan_in:.12g}")


def second_moment(images: np.ndarray, chunk: int = 10000) -> float:
    """E[x²] over every pixel of uint8 `images`, scaled to [0, 1] as training scales them."""
    total = sum(
        float(
            np.sum(
                np.square(
                    batches.scale_pixels(images[i : i + chunk].astype(np.float32)), dtype=np.float64
                )
            )
        )
        for i in range(0, len(images), chunk)
    )
    return total / images.size


def layers(cfg: Config, second: float, shapes: list[tuple[int, int]], kernels=None):
    """Per Dense layer (logits last): its σ_w², q, predicted activation std, χ, and the
    predicted weight-gradient std relative to the logits layer's. `second` is E[x²] of the
    input pixels; `kernels` the model's own, for a data-dependent initializer. None where
    the theory has nothing to say (zero weights, or a σ_w² that only data can give)."""
    act, sb = theory.activation(cfg.model.activation), cfg.init.bias_variance
    kernels = kernels or [None] * len(shapes)
    sws = [weight_variance(cfg, fi, fo, k) for (fi, fo), k in zip(shapes, kernels)]
    if any(sw is None or not 0 < sw < math.inf for sw in sws):
        return None
    rows = []
    for i, ((fan_in, fan_out), sw) in enumerate(zip(shapes, sws)):
        logits = i == len(shapes) - 1
        q = sw * second + sb if i == 0 else theory.length_map(act, sw, sb, rows[-1]["q"])
        finite = math.isfinite(q)
        if logits:  # no activation: the logits are h^L itself, mean 0
            std, slope2 = math.sqrt(q), 1.0
        elif finite:
            mean = theory.moment(act, "phi", q)
            std = math.sqrt(max(theory.moment(act, "phi2", q) - mean * mean, 0.0))
            slope2 = theory.moment(act, "dphi2", q)
        else:
            std, slope2 = math.inf, math.nan
        rows.append(
            {
                "fan_in": fan_in,
                "fan_out": fan_out,
                "weight_variance": sw,
                "q": q,
                "activation_std": std,
                "input_second_moment": second,
                "slope2": slope2,
                "chi": None if logits else sw * slope2,
            }
        )
        second = theory.moment(act, "phi2", q) if finite and not logits else math.inf
    _gradients(rows)
    return rows


def _gradients(rows: list[dict]) -> None:
    """Each row's `delta_ratio`, the backward signal's std (δ, the loss's gradient with
    respect to the layer's pre-activations) over the logits layer's, and its
    `gradient_ratio`, the weight gradient's (δ times the layer's input) over the logits
    layer's. The two can disagree: with χ < 1, δ shrinks on the way down while each
    layer's input grows, and the weight gradients can stay level."""
    delta = 1.0  # Var(δ^l) / Var(δ^L), from the top down
    for i in range(len(rows) - 1, -1, -1):
        if i < len(rows) - 1:
            above = rows[i + 1]
            width = above["fan_out"] / above["fan_in"]
            delta *= rows[i]["slope2"] * above["weight_variance"] * width
        ratio = rows[i]["input_second_moment"] * delta / rows[-1]["input_second_moment"]
        with np.errstate(invalid="ignore", over="ignore"):
            rows[i]["gradient_ratio"] = math.sqrt(ratio) if ratio >= 0 else math.nan
            rows[i]["delta_ratio"] = math.sqrt(delta) if delta >= 0 else math.nan


def gradient_words(rows: list[dict]) -> str | None:
    """One sentence where the δ and grad columns tell different stories: δ shrinking by
    more than 2x across the hidden layers while their weight gradients stay within 2x of
    each other (χ < 1 with a
    growing input, e.g. ReLU with Glorot). None where they agree."""
    hidden = rows[:-1]
    deltas = [r["delta_ratio"] for r in hidden]
    grads = [r["gradient_ratio"] for r in hidden]
    if not hidden or not all(map(math.isfinite, deltas + grads)) or min(grads) <= 0:
        return None
    if deltas[0] >= 0.5 * deltas[-1] or max(grads) > 2 * min(grads):
        return None
    return (
        f"δ shrinks {deltas[-1] / deltas[0]:.3g}x from the last hidden layer to the first "
        "(χ < 1), "
        "but each layer's input grows as much on the way down, so the weight gradients "
        f"stay level ({min(grads):.3g}-{max(grads):.3g}): a shrinking δ does not by itself "
        "mean small weight updates"
    )


def summary(cfg: Config, second: float, critical: bool = False) -> dict:
    """`initcmp theory`: theory.summary at the σ_w² of the network's hidden-to-hidden
    layers (the first layer's when there is only one) and its first layer's q¹ from the
    inputs' E[x²] (`second`); the per-layer table for this network's own shapes; and what
    it means for this depth, in one sentence."""
    sizes = cfg.model.widths()
    shapes = list(zip(sizes[:-1], sizes[1:]))
    rows = layers(cfg, second, shapes)
    if rows is None:
        return {}
    typical = rows[1] if len(rows) > 2 else rows[0]
    out = theory.summary(
        cfg.model.activation,
        typical["weight_variance"],
        cfg.init.bias_variance,
        len(cfg.model.hidden),
        rows[0]["q"],
    )
    out["layers"] = rows
    if critical:
        out["critical_weight_variance"] = theory.critical_weight_variance(
            cfg.model.activation, cfg.init.bias_variance
        )
    out["meaning"] = meaning(out, len(cfg.model.hidden))
    return out


def meaning(summary: dict, depth: int) -> str:
    """What the depth scale says for a network of `depth` hidden layers (Schoenholz et al.
    2017: networks train only up to about 6 ξ_c)."""
    xi, chi1 = summary["xi_c"], summary["chi_1"]
    where = f"{summary['phase']} phase (χ₁ = {chi1:.3g})"
    if summary["phase"] == "exploding":
        return (
            f"{where}: no fixed point: the signal grows without bound, its variance by about "
            f"χ₁ per layer, and so do the gradients; ξ_c = ∞ here does not mean trainable"
        )
    if not math.isfinite(xi):
        grows = " but gradients grow by χ₁ per layer" if chi1 > 1 + theory.CRITICAL_TOL else ""
        if math.isinf(summary["q_star"]):
            grows += (
                "; no fixed point: the signal's variance grows without bound, by a roughly "
                "constant amount per layer"
            )
        return f"{where}: correlations between inputs survive any depth{grows}"
    ratio = depth / xi
    verdict = (
        "well within trainable depth"
        if ratio < 3
        else "at the edge of trainability"
        if ratio <= 6
        else "beyond trainable depth: expect it not to train"
    )
    return f"{where}: {depth} layers is {ratio:.2g} ξ_c (ξ_c = {xi:.3g}): {verdict}"
