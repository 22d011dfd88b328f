"""Mean-field theory of a deep fully connected network at initialization (numpy only).

W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²), z ~ N(0, 1), φ the activation as Keras 3 defines it.
Poole et al. 2016 (arXiv:1606.05340), Schoenholz et al. 2017 (arXiv:1611.01232). ReLU and
linear have closed forms (ReLU's correlation map: Cho & Saul 2009's arc-cosine kernel); the
rest composite Gauss-Legendre in z on [−10, 10] (the tail beyond is 8e-24), breakpoints
every 0.5 plus, for large q, ones graded at the kink (±h·2^k, h ≈ 1/(4√q)), which resolve
tanh(√q z), near a step at q = 1e4, on every scale from 1/√q to 1. scipy is imported
inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import math
from collections import namedtuple
from functools import lru_cache
from typing import Callable

import numpy as np

from initcmp.errors import ConfigError

# |χ₁ − 1| under this is "critical": ξ = −1/ln χ₁ > ~1000 layers, deeper than any we build
CRITICAL_TOL = 1e-3
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
SUMMARY_KEYS = ("activation", "weight_variance", "bias_variance", "q_star", "chi_1", "c_star")
SUMMARY_KEYS += ("chi_c", "xi_c", "xi_q", "phase", "layers")
_L, _NODES, _UNIFORM = 10.0, 10, np.linspace(-10.0, 10.0, 41)  # z cut, nodes per interval
# A q* beyond these is reported as inf / 0. Past 1e10 the length map of an activation
# that grows linearly (ELU's, softplus' at σ_w² = 2) is q + O(1), a change below the
# quadrature's relative precision, so a root found there is round-off, not a fixed
# point: the signal grows without bound.
_Q_MAX, _Q_MIN = 1e10, 1e-30
# φ, φ', φ'' (one-sided at kinks; deltas in φ'' sit where φ = 0) and tails = φ'(−∞), φ'(+∞)
Activation = namedtuple("Activation", "name phi dphi d2phi tails")


def _sig(u):
    return 1.0 / (1.0 + np.exp(-np.clip(u, -700.0, 700.0)))


def _cdf(u):
    from scipy.special import ndtr

    return ndtr(u)


def _pdf(u):
    return np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)


def _elu(name: str, k: float, a: float) -> Activation:  # k·ELU_a: elu 1, 1; selu scale, alpha
    return Activation(
        name,
        lambda u: k * np.where(u > 0, u, a * np.expm1(np.minimum(u, 0.0))),
        lambda u: np.where(u > 0, k, k * a * np.exp(np.minimum(u, 0.0))),
        lambda u: np.where(u > 0, 0.0, k * a * np.exp(np.minimum(u, 0.0))),
        (0.0, k),
    )


# A table, one activation a row (its φ, φ', φ'' and tails), kept as written:
# fmt: off
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", lambda u: np.maximum(u, 0), lambda u: (u > 0) * 1.0, np.zeros_like, (0, 1)),
    Activation("tanh", np.tanh, lambda u: 1.0 - np.tanh(u) ** 2,
               lambda u: -2.0 * np.tanh(u) * (1.0 - np.tanh(u) ** 2), (0.0, 0.0)),
    Activation("sigmoid", _sig, lambda u: _sig(u) * _sig(-u),
               lambda u: _sig(u) * _sig(-u) * (_sig(-u) - _sig(u)), (0.0, 0.0)),
    _elu("elu", 1.0, 1.0),
    _elu("selu", SELU_SCALE, SELU_ALPHA),
    # Keras' gelu defaults to approximate=False: x·Φ(x), Φ the N(0, 1) cdf (the erf form)
    Activation("gelu", lambda u: u * _cdf(u), lambda u: _cdf(u) + u * _pdf(u),
               lambda u: _pdf(u) * (2.0 - u * u), (0.0, 1.0)),
    Activation("swish", lambda u: u * _sig(u), lambda u: _sig(u) * (1.0 + u * _sig(-u)),
               lambda u: _sig(u) * _sig(-u) * (2.0 + u * (_sig(-u) - _sig(u))), (0.0, 1.0)),
    Activation("linear", lambda u: u, np.ones_like, np.zeros_like, (1.0, 1.0)),
)}
# fmt: on


def activation(name: str | Activation) -> Activation:
    """The Activation called `name` (or `name`, an Activation); ConfigError if unknown."""
    if isinstance(name, Activation) or name in ACTIVATIONS:
        return name if isinstance(name, Activation) else ACTIVATIONS[name]
    raise ConfigError(f"unknown activation {name!r}: use one of {', '.join(ACTIVATIONS)}")


def _graded(h: float) -> np.ndarray:
    """0 and ±h·2^k below 1: breakpoints resolving features of every width from h to 1."""
    p = h * 2.0 ** np.arange(math.ceil(math.log2(1.0 / h))) if h < 1 else np.zeros(0)
    return np.concatenate([-p[::-1], [0.0], p])


def _nodes(breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes, weights × N(0, 1) density, between sorted breaks (last axis)."""
    x, w = np.polynomial.legendre.leggauss(_NODES)
    mid, half = (breaks[..., 1:] + breaks[..., :-1]) / 2, (breaks[..., 1:] - breaks[..., :-1]) / 2
    z = (mid[..., None] + half[..., None] * x).reshape(*breaks.shape[:-1], -1)
    return z, (half[..., None] * w).reshape(z.shape) * _pdf(z)


@lru_cache(maxsize=256)
def _mesh(level: int) -> tuple[np.ndarray, np.ndarray]:
    """The 1-D rule in z, graded down to h = 2^level (a power of 2: cached) around 0."""
    return _nodes(np.unique(np.concatenate([_UNIFORM, _graded(2.0**level)])))


def gaussian_mean(f: Callable, q: float) -> float:
    """E[f(√q z)], z ~ N(0, 1), by the graded rule; at q = 0 the limit (f(0⁻) + f(0⁺))/2."""
    if q == 0:
        return 0.5 * float(f(np.array([-1e-300]))[0] + f(np.array([1e-300]))[0])
    z, w = _mesh(min(2, math.floor(math.log2(0.25 / math.sqrt(q)))))
    return float(np.dot(f(math.sqrt(q) * z), w))


def gaussian_mean_2d(f: Callable, g: Callable, q: float, c: float) -> float:
    """E[f(u₁) g(u₂)], u₁ = √q z₁, u₂ = √q (c z₁ + s z₂), s = √(1 − c²): outer rule graded at
    z₁ = 0 down to min(1/√q, s/|c|), inner ones graded at u₂'s kink z₂ = −c z₁/s to 1/(√q s)."""
    c = min(max(c, -1.0), 1.0)
    s, r = math.sqrt((1.0 - c) * (1.0 + c)), math.sqrt(q)
    if s == 0 or q == 0:
        return gaussian_mean(lambda u: f(u) * g(c * u), q)
    z1, w1 = _mesh(min(2, math.floor(math.log2(0.25 * min(1 / r, s / (abs(c) or 1e-300))))))
    kink = (-c / s) * z1[:, None] + _graded(0.25 / (r * s))
    uniform = np.broadcast_to(_UNIFORM, (len(z1), len(_UNIFORM)))
    z2, w2 = _nodes(np.sort(np.clip(np.concatenate([uniform, kink], axis=1), -_L, _L), axis=1))
    inner = np.sum(g(r * (c * z1[:, None] + s * z2)) * w2, axis=1)
    return float(np.dot(f(r * z1) * inner, w1))


def moment(act: str | Activation, name: str, q: float, *, numeric: bool = False) -> float:
    """E at u = √q z of "phi": φ(u), "phi2": φ(u)², "dphi2": φ'(u)², "curv": φ(u)φ''(u).
    ReLU: √(q/2π), q/2, 1/2, 0; linear: 0, q, 1, 0 (numeric=True: by quadrature anyway)."""
    a = activation(act)
    if not numeric and a.name == "linear":
        return {"phi": 0.0, "phi2": q, "dphi2": 1.0, "curv": 0.0}[name]
    if not numeric and a.name == "relu":
        return {"phi": math.sqrt(q / 2 / math.pi), "phi2": q / 2, "dphi2": 0.5, "curv": 0.0}[name]
    return gaussian_mean(
        {
            "phi": a.phi,
            "phi2": lambda u: a.phi(u) ** 2,
            "dphi2": lambda u: a.dphi(u) ** 2,
            "curv": lambda u: a.phi(u) * a.d2phi(u),
        }[name],
        q,
    )


def cross_moment(act, name: str, q: float, c: float, *, numeric: bool = False) -> float:
    """E[φ(u₁)φ(u₂)] ("phi"), E[φ'(u₁)φ'(u₂)] ("dphi"), as in `gaussian_mean_2d`; ReLU (Cho &
    Saul 2009, θ = arccos c): q/(2π)·(sin θ + (π − θ) c), (π − θ)/(2π); linear: q c, 1."""
    a = activation(act)
    if not numeric and a.name == "linear":
        return q * c if name == "phi" else 1.0
    if not numeric and a.name == "relu":
        t = math.acos(min(max(c, -1.0), 1.0))
        k = (math.pi - t) / (2 * math.pi)
        return q * (math.sin(t) / (2 * math.pi) + k * c) if name == "phi" else k
    f = a.phi if name == "phi" else a.dphi
    return gaussian_mean_2d(f, f, q, c)


def length_map(act, weight_variance: float, bias_variance: float, q: float) -> float:
    """q ↦ σ_w² E[φ(√q z)²] + σ_b² (Poole et al. 2016, eq. 3); inf ↦ inf."""
    return math.inf if math.isinf(q) else weight_variance * moment(act, "phi2", q) + bias_variance


def _search(gap: Callable[[float], float], x: float, step, stop) -> float | None:
    """brentq in the first [x, step(x)], [step(x), step²(x)], ... where gap changes sign."""
    from scipy.optimize import brentq

    fx = gap(x)
    while fx != 0:
        y = step(x)
        if (fy := gap(y)) == 0 or (fy > 0) != (fx > 0):
            return brentq(gap, min(x, y), max(x, y), xtol=1e-300, rtol=1e-14)
        if stop(y):
            return None
        x, fx = y, fy
    return x


def q_star(act, weight_variance: float, bias_variance: float, q0: float = 1.0) -> float:
    """The length map's fixed point reached from q0 (30 iterations, then brentq on a bracket
    grown ×2 the way q moves): inf past 1e10 (e.g. ReLU σ_w² > 2), 0 below 1e-30 (or under
    1e-12 with σ_b² = 0: noise), q0 where every q is fixed (ReLU σ_w² = 2, σ_b² = 0)."""
    a, sw, sb = activation(act), weight_variance, bias_variance
    if a.name in ("relu", "linear"):
        gain = sw / 2 if a.name == "relu" else sw  # the length map is q ↦ gain·q + σ_b²
        if gain < 1:
            return sb / (1 - gain)
        return q0 if (gain == 1 and sb == 0) or q0 == 0 == sb else math.inf
    q = q0
    for _ in range(30):
        q, last = length_map(a, sw, sb, q), q
        if q > _Q_MAX or abs(q - last) <= 1e-13 * q:
            return q if q <= _Q_MAX else math.inf

    up = length_map(a, sw, sb, q) > q
    root = _search(
        lambda x: length_map(a, sw, sb, x) - x,
        q,
        lambda x: x * 2 if up else x / 2,
        lambda x: not _Q_MIN < x < _Q_MAX,
    )
    if root is None:
        return math.inf if up else 0.0
    return 0.0 if sb == 0 and root < 1e-12 else root


def chi_1(act, weight_variance: float, q: float) -> float:
    """χ₁ = σ_w² E[φ'(√q z)²] (Schoenholz et al. 2017, eq. 5): ReLU σ_w²/2, linear σ_w²;
    at q = inf the limit σ_w² (φ'(−∞)² + φ'(+∞)²)/2."""
    a = activation(act)
    tails = (a.tails[0] ** 2 + a.tails[1] ** 2) / 2
    return weight_variance * (tails if math.isinf(q) else moment(a, "dphi2", q))


def length_map_slope(act, weight_variance: float, q: float) -> float:
    """d(length map)/dq = σ_w² E[φ'(√q z)² + φ(√q z) φ''(√q z)] (Gaussian integration by
    parts; Schoenholz et al. 2017, eq. 4 for ξ_q); at q = inf the χ₁ limit."""
    curv = 0.0 if math.isinf(q) else moment(act, "curv", q)
    return chi_1(act, weight_variance, q) + weight_variance * curv


def correlation_map(act, weight_variance: float, bias_variance: float, c: float, q: float):
    """c ↦ (σ_w² E[φ(u₁)φ(u₂)] + σ_b²)/q, at q = q* (Poole et al. 2016, eq. 5)."""
    return (weight_variance * cross_moment(act, "phi", q, c) + bias_variance) / q


def c_star(act, weight_variance: float, bias_variance: float, q: float) -> float:
    """The correlation map's stable fixed point at q*: 1 unless chaotic with 0 < q* < inf,
    where map(c) − c, convex on [0, 1] (nonnegative power series), ≥ 0 at 0, < 0 just below
    1, has one root in [0, 1) (0 where map(0) = 0: σ_b² = 0 and E[φ] = 0, e.g. odd φ)."""
    a = activation(act)
    if not 0 < q < math.inf or chi_1(a, weight_variance, q) <= 1 + CRITICAL_TOL:
        return 1.0
    if correlation_map(a, weight_variance, bias_variance, 0.0, q) <= 1e-12:
        return 0.0
    root = _search(
        lambda c: correlation_map(a, weight_variance, bias_variance, c, q) - c,
        0.0,
        lambda c: (1 + c) / 2,
        lambda c: c > 1 - 1e-12,
    )
    return 1.0 if root is None else root


def chi_c(act, weight_variance: float, q: float, c: float) -> float:
    """χ_c = σ_w² E[φ'(u₁)φ'(u₂)] at (q*, c*) (Schoenholz et al. 2017, eq. 9); at c = 1 χ₁."""
    if c < 1 and 0 < q < math.inf:
        return weight_variance * cross_moment(act, "dphi", q, c)
    return chi_1(act, weight_variance, q)


def depth_scale(chi: float) -> float:
    """−1/ln χ, the depth over which a deviation decays by e; inf for χ ≥ 1, 0 for χ ≤ 0."""
    return math.inf if chi >= 1 else 0.0 if chi <= 0 else -1.0 / math.log(chi)


def phase(chi1: float, q_star: float = 0.0) -> str:
    """'critical' where |χ₁ − 1| < CRITICAL_TOL, else 'ordered' (χ₁ < 1), 'chaotic', or,
    for an unbounded activation with no fixed point (q* = inf: the signal grows without
    bound, as ReLU's beyond σ_w² = 2), 'exploding'."""
    if abs(chi1 - 1) < CRITICAL_TOL:
        return "critical"
    if chi1 < 1:
        return "ordered"
    return "exploding" if math.isinf(q_star) else "chaotic"


def layer_predictions(act, weight_variance: float, bias_variance: float, q1: float, depth: int):
    """Per hidden layer l = 1..depth from q¹: {"layer", "q": q^l, "activation_mean"/"_std":
    of φ(√q^l z), "chi": σ_w² E[φ'(√q^l z)²], "gradient_variance_ratio": Var(δ^l)/Var(δ^depth)
    = Π_{k=l}^{depth−1} χ_k}, δ^l the gradient w.r.t. layer l's pre-activations (equal widths;
    the kernel's gradient has variance Var(δ^l)·E[a^{l−1}²] = Var(δ^l)(q^l − σ_b²)/σ_w²)."""
    a, q, rows = activation(act), q1, []
    for layer in range(1, depth + 1):
        q = q if layer == 1 else length_map(a, weight_variance, bias_variance, q)
        mean = math.inf if math.isinf(q) else moment(a, "phi", q)
        var = math.inf if math.isinf(q) else moment(a, "phi2", q) - mean * mean
        std, chi = math.sqrt(max(var, 0.0)), chi_1(a, weight_variance, q)
        rows.append(dict(layer=layer, q=q, activation_mean=mean, activation_std=std, chi=chi))
    for k, row in enumerate(rows):
        row["gradient_variance_ratio"] = math.prod(r["chi"] for r in rows[k:-1])
    return rows


def critical_weight_variance(act, bias_variance: float, q0: float = 1.0) -> float | None:
    """The σ_w² where χ₁(q*(σ_w²)) = 1, q* reached from q0 (bracket from 0.5 grown 1.5x,
    brentq); ReLU 2,
    linear 1 at σ_b² = 0. None where no crossing has a finite q*: ReLU, linear with σ_b² > 0
    (q* → inf as χ₁ → 1; Hayou et al. 2019), gelu, swish at small σ_b² (χ₁ − 1 jumps)."""
    a = activation(act)
    if not 0 <= bias_variance < math.inf:
        raise ConfigError(f"the bias variance σ_b² must be >= 0 and finite, not {bias_variance}")
    if a.name in ("relu", "linear"):
        return (2.0 if a.name == "relu" else 1.0) if bias_variance == 0 else None

    def gap(sw: float) -> float:
        return chi_1(a, sw, q_star(a, sw, bias_variance, q0)) - 1

    # Steps of 1.5x, not 2x: ELU's χ₁ crosses 1 at σ_w² ≈ 1.53 and meets it again at 2,
    # where q* = inf; a 2x bracket [1, 2] would land on that end instead of the crossing.
    down = gap(0.5) > 0
    step = (lambda sw: sw / 1.5) if down else (lambda sw: sw * 1.5)
    root = _search(gap, 0.5, step, lambda sw: not 1e-6 < sw < 1e4)
    if root is None or not math.isfinite(q_star(a, root, bias_variance, q0)):
        return None
    return root if abs(gap(root)) < 1e-6 else None


def summary(act, weight_variance: float, bias_variance: float, depth: int = 10, q1=None) -> dict:
    """The theory for one config, keyed by SUMMARY_KEYS (inf stays a float); q1, the first
    layer's q¹, defaults to σ_w² + σ_b² (inputs of mean square 1)."""
    a, sw, sb = activation(act), weight_variance, bias_variance
    q1 = sw + sb if q1 is None else q1
    if not (0 < sw < math.inf and 0 <= sb < math.inf and depth >= 1 and 0 <= q1 < math.inf):
        raise ConfigError(
            f"need σ_w² > 0, σ_b² >= 0, q1 >= 0, finite, and depth >= 1: "
            f"not σ_w² = {sw}, σ_b² = {sb}, q1 = {q1}, depth {depth}"
        )
    qs = q_star(a, sw, sb, q1)
    chi1, cs = chi_1(a, sw, qs), c_star(a, sw, sb, qs)
    chic, xi_q = chi_c(a, sw, qs, cs), depth_scale(length_map_slope(a, sw, qs))
    layers = layer_predictions(a, sw, sb, q1, depth)
    values = (a.name, sw, sb, qs, chi1, cs, chic, depth_scale(chic), xi_q, phase(chi1, qs), layers)
    return dict(zip(SUMMARY_KEYS, values))
