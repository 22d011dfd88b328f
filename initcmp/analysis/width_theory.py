"""Width: the exponents Tensor Programs predict, and what a coordinate check measured.

Theory (`predict`): how each layer's output at initialization, and its change after the
first training step, scale with the width n, as n^s. It counts orders of magnitude the way
Yang & Hu (2021, arXiv:2011.14522, §3 and Appendix) and Tensor Programs V (Yang et al.
2022, arXiv:2203.03466, §J "desiderata") do, for a network whose hidden layers all have
width n, in its parametrization (inits/parametrizations.py) and with its initializer:

- every per-layer factor is read off the implementation as an exponent of n: the init
  variance v (the initializer's formula × the init factor², e.g. He hidden: 2/n, v = -1;
  a zero readout: -inf), the forward multiplier a, the kernel's and bias's learning rate
  c, c_b; a fan-in or fan-out that grows with n counts 1, a fixed one (784, 10) 0;
- forward at init, a sum of fan_in independent terms (central limit):
  p_l = a_l + v_l/2 + fan_in_l/2 + p_(l-1), p_0 = 0 (the pixels);
- backward, dL/dlogits = Θ(1), and dL/dx_(l-1) = g_l + a_l + v_l/2 + fan_out_l/2;
- the first update of a kernel entry: SGD η·∂L/∂W, of order c + a + g + p_(l-1);
  Adam and RMSprop normalise it entrywise, of order c (0-order gradients stay zero);
- the change of a layer's output is the largest of: the weight update acting on the
  input it was computed from, correlated with it (law of large numbers: a + u +
  p_(l-1) + fan_in), the old weights acting on the input's change (central limit:
  a + v/2 + fan_in/2 + Δp_(l-1)), and the bias update.

The activation is taken to keep orders (ReLU exactly; tanh etc. for Θ(1) inputs). Under
μP every exponent is 0 (the abc-parametrization's definition of maximal update); under
the standard parametrization with Adam the logits' first update grows like n (and each
hidden layer's too); under NTK features move as n^(-1/2), the logits as n^0.

Measurement (`fit`): the slope of log mean|h| against log width, per step and layer,
by least squares over the widths (the seeds' mean at each width), and a verdict in
words: stable when |s| < STABLE (half-way to the nearest nonzero exponent the table
above can give), else growing or shrinking as width^s.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from initcmp.inits import parametrizations
from initcmp.inits import registry
from initcmp.config.schema import Config

# A slope under this in size is "stable": theory's exponents are multiples of 1/2.
STABLE = 0.25
# Sizes at or below this are zero (a zero readout's logits at t = 0, an unchanged layer).
ZERO = 1e-30


def _at(cfg: Config, width: int) -> Config:
    model = dataclasses.replace(cfg.model, hidden=(width,) * len(cfg.model.hidden))
    return dataclasses.replace(cfg, model=model)


def _exponent(small: float, large: float) -> float:
    """The exponent s of large/small = 2^s (widths n and 2n); -inf for a zero."""
    if large == 0 and small == 0:
        return -math.inf
    return round(math.log2(large / small), 9)  # sqrt's last bit is no exponent


def exponents(cfg: Config, width: int = 1024) -> list[dict]:
    """Each layer's v, a, c, c_b and fan exponents (module docstring), read off the
    implementation at `width` and twice it."""
    rows = []
    pairs = [(_at(cfg, n).model.widths(), _at(cfg, n).layer_scalings()) for n in (width, 2 * width)]
    (sizes, small), (sizes2, large) = pairs
    for index, (s1, s2) in enumerate(zip(small, large)):
        stds = [
            registry.expected_std(cfg.init.name, cfg.init.params, sz[index], sz[index + 1])
            * sc.init_std
            for sz, sc in ((sizes, s1), (sizes2, s2))
        ]
        rows.append(
            {
                "role": s1.role,
                "v": 2 * _exponent(*stds),
                "a": _exponent(s1.multiplier, s2.multiplier),
                "c": _exponent(s1.kernel_lr, s2.kernel_lr),
                "c_bias": _exponent(s1.bias_lr, s2.bias_lr),
                "fan_in": int(sizes2[index] != sizes[index]),
                "fan_out": int(sizes2[index + 1] != sizes[index + 1]),
            }
        )
    return rows


def predict(cfg: Config) -> list[dict]:
    """Per layer (hidden first, logits last): {"init": exponent of mean|h_0|, "update":
    exponent of mean|h_1 - h_0|}, -inf where the quantity is zero."""
    layers = exponents(cfg)
    adaptive = cfg.train.optimizer in parametrizations.ADAPTIVE
    p = [0.0]  # p[l]: layer l's output; p[0] the pixels
    for e in layers:
        p.append(e["a"] + e["v"] / 2 + e["fan_in"] / 2 + p[-1])
    g = [0.0] * len(layers)  # g[l]: dL/d(pre-activation of layer l)
    for index in range(len(layers) - 1, 0, -1):
        e = layers[index]
        g[index - 1] = g[index] + e["a"] + e["v"] / 2 + e["fan_out"] / 2
    out, dp = [], -math.inf  # the pixels never change
    for index, e in enumerate(layers):
        grad = e["a"] + g[index] + p[index]
        if adaptive:
            u = e["c"] if grad > -math.inf else -math.inf
            ub = e["c_bias"] if g[index] > -math.inf else -math.inf
        else:
            u, ub = e["c"] + grad, e["c_bias"] + g[index]
        dp = max(
            e["a"] + u + p[index] + e["fan_in"],
            e["a"] + e["v"] / 2 + e["fan_in"] / 2 + dp,
            ub,
        )
        out.append({"init": p[index + 1], "update": dp})
    return out


def slope(widths, values) -> float | None:
    """Least-squares slope of log values against log widths; None if any is zero."""
    values = np.asarray(values, np.float64)
    if np.any(~np.isfinite(values)) or np.any(values <= ZERO):
        return None
    return float(np.polyfit(np.log(widths), np.log(values), 1)[0])


def verdict(s: float | None, values) -> str:
    """A slope in words."""
    if s is None:
        if np.all(np.asarray(values) <= ZERO):
            return "zero at every width"
        return "not measurable (a zero, inf or NaN at some width)"
    if abs(s) < STABLE:
        return f"stable (width^{s:+.2f})"
    return f"{'grows' if s > 0 else 'shrinks'} as width^{s:+.2f}"


def fit(result: dict, widths: list[int], theory: list[dict] | None = None) -> dict:
    """Slopes and verdicts of a coordinate check (engine/coord_check.measure): for each
    step t and layer, of the size mean|h_t| and of the change mean|h_t - h_0| (t >= 1),
    over the seeds' means; with theory's exponents beside t = 0's size and t = 1's change."""
    size, change = (np.asarray(result[k]).mean(axis=2) for k in ("size", "change"))
    rows = []
    for j, layer in enumerate(result["layers"]):
        for t in range(size.shape[0]):
            for quantity, table in (("size", size), ("change", change)):
                if quantity == "change" and t == 0:
                    continue
                s = slope(widths, table[t, :, j])
                row = {
                    "layer": layer,
                    "step": t,
                    "quantity": quantity,
                    "slope": s,
                    "verdict": verdict(s, table[t, :, j]),
                }
                if theory is not None:
                    key = "init" if quantity == "size" else "update"
                    if (t, quantity) in ((0, "size"), (1, "change")):
                        row["theory"] = theory[j][key]
                rows.append(row)
    return {"rows": rows}


def agrees(measured: float | None, predicted: float) -> bool:
    """A fitted slope agrees with theory within STABLE (a zero with -inf too)."""
    if predicted == -math.inf:
        return measured is None
    return measured is not None and abs(measured - predicted) < STABLE


def exponent_words(s: float) -> str:
    """A predicted exponent as the figure and tables print it: `+1`, `-1/2`, `zero`."""
    if s == -math.inf:
        return "zero"
    half = round(s * 2)
    if abs(half - s * 2) > 1e-9:
        return f"{s:+.2f}"
    return f"{half // 2:+d}" if half % 2 == 0 else f"{'+' if half > 0 else '-'}{abs(half)}/2"


def coordinate_check(cfg: Config, data) -> dict:
    """The coordinate check of `cfg` (its `coord_check` widths and steps, each seed of
    `compare.seeds`): the measurements, the fitted slopes with their verdicts, and
    theory's exponents beside them. Plain JSON types throughout but -inf (`zero`)."""
    from initcmp.engine import coord_check

    widths, steps = list(cfg.coord_check.widths), cfg.coord_check.steps
    seeds = list(cfg.compare.seeds)
    measured = coord_check.measure(cfg, data, widths, steps, seeds)
    theory = predict(coord_check.at_width(cfg, widths[0], seeds[0]))
    return {
        "parametrization": cfg.model.parametrization,
        "base_width": cfg.model.base_width,
        "optimizer": cfg.train.optimizer,
        "learning_rate": cfg.train.learning_rate,
        "init": cfg.init.name,
        "readout": cfg.init.readout,
        "activation": cfg.model.activation,
        "depth": len(cfg.model.hidden),
        "batch_size": cfg.train.batch_size,
        "widths": widths,
        "seeds": seeds,
        "steps": steps,
        "layers": measured["layers"],
        # [t][width][seed][layer]
        "size": measured["size"].tolist(),
        "change": measured["change"].tolist(),
        "theory": [{"layer": n, **e} for n, e in zip(measured["layers"], theory)],
        "slopes": fit(measured, widths, theory)["rows"],
    }


def summary_rows(result: dict) -> list[dict]:
    """Per layer, what the tables show: the slope of its size at t = 0 and of its first
    change (t = 1) beside theory's exponents, and its size's slope at the last step."""
    by = {(r["layer"], r["step"], r["quantity"]): r for r in result["slopes"]}
    last = result["steps"]
    rows = []
    for j, layer in enumerate(result["layers"]):
        init, first, final = (
            by[(layer, 0, "size")],
            by[(layer, 1, "change")],
            by[(layer, last, "size")],
        )
        theory = result["theory"][j]
        rows.append(
            {
                "layer": layer,
                "init_slope": init["slope"],
                "init_theory": theory["init"],
                "update_slope": first["slope"],
                "update_theory": theory["update"],
                "update_agrees": agrees(first["slope"], theory["update"]),
                "init_agrees": agrees(init["slope"], theory["init"]),
                "final_slope": final["slope"],
                "verdict": final["verdict"],
                "update_verdict": first["verdict"],
            }
        )
    return rows


# --- learning-rate transfer: a sweep over model.width x train.learning_rate --------------

WIDTH, LEARNING_RATE = "model.width", "train.learning_rate"
# A sweep cell's loss for each metric of the transfer figure (experiments/sweep.describe).
LOSSES = {"train": "mean_train_loss", "test": "mean_loss"}


def lr_transfer(axes: dict, cells: list[dict]) -> dict | None:
    """Where a sweep's grid has `model.width` and `train.learning_rate` (and maybe other
    keys, such as `model.parametrization`: a group per combination of their values):
    per group, each width's loss (train-set and test, the seeds' mean) against the
    learning rate, each width's best learning rate (the lowest loss; a cell whose runs
    all diverged has none), and the drift, the best learning rate at the widest width
    over that at the narrowest, as a ratio and in grid steps (positions in the sorted
    learning rates). None for any other grid."""
    if WIDTH not in axes or LEARNING_RATE not in axes:
        return None
    others = [k for k in axes if k not in (WIDTH, LEARNING_RATE)]
    widths, rates = sorted(axes[WIDTH]), sorted(axes[LEARNING_RATE])
    tables: dict[tuple, dict] = {}
    for cell in cells:
        key = tuple(cell["values"][k] for k in others)
        tables.setdefault(key, {})[(cell["values"][WIDTH], cell["values"][LEARNING_RATE])] = cell
    groups = []
    for key, table in tables.items():
        group: dict = {"values": dict(zip(others, key))}
        for name, column in LOSSES.items():
            losses = [[_loss(table.get((w, r)), column) for r in rates] for w in widths]
            best = [_best(row) for row in losses]
            group[f"{name}_loss"] = losses
            group[f"best_{name}"] = [None if b is None else rates[b] for b in best]
            group[f"best_{name}_at_edge"] = [b in (0, len(rates) - 1) for b in best]
            ends = (best[0], best[-1])
            group[f"drift_{name}_steps"] = None if None in ends else ends[1] - ends[0]
            group[f"drift_{name}_ratio"] = None if None in ends else rates[ends[1]] / rates[ends[0]]
        groups.append(group)
    return {"widths": widths, "learning_rates": rates, "others": others, "groups": groups}


def _loss(cell: dict | None, column: str) -> float | None:
    value = None if cell is None else cell.get(column)
    return value if value is not None and math.isfinite(value) else None


def _best(row: list) -> int | None:
    finite = [(v, i) for i, v in enumerate(row) if v is not None]
    return min(finite)[1] if finite else None


def drift_words(group: dict, name: str, rates: list) -> str:
    """`the best learning rate moves x0.125 (3 grid steps down) from width 128 to 2048`."""
    steps, ratio = group[f"drift_{name}_steps"], group[f"drift_{name}_ratio"]
    if steps is None:
        return "no best learning rate at the narrowest or the widest width (all diverged)"
    edge = group[f"best_{name}_at_edge"]
    caveat = (
        " (a best value at the grid's edge: the optimum may lie beyond it)" if any(edge) else ""
    )
    if steps == 0:
        return f"the best learning rate stays at {rates_words(group[f'best_{name}'][0])}{caveat}"
    way = "up" if steps > 0 else "down"
    plural = "" if abs(steps) == 1 else "s"
    return (
        f"the best learning rate moves x{ratio:.3g} ({abs(steps)} grid step{plural} {way}){caveat}"
    )


def rates_words(rate: float) -> str:
    """A learning rate with its log2: `0.000977 (2^-10)`."""
    return f"{rate:.3g} (2^{math.log2(rate):.3g})"
