"""initcmp.analysis.theory: closed forms, quadrature against scipy's adaptive quad, Monte Carlo,
a wide random network, and the known results of Poole et al. 2016 / Schoenholz et al. 2017."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from initcmp.analysis import theory
from initcmp.errors import ConfigError
from helpers import python

ACTS = list(theory.ACTIVATIONS)
QS = (1e-3, 1.0, 50.0, 500.0, 5000.0)
A, S = theory.SELU_ALPHA, theory.SELU_SCALE


def _pdf(z):
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _s(u):
    return 0.5 * (1 + math.tanh(0.5 * u))


def _gelu_cdf(u):
    return 0.5 * (1 + math.erf(u / math.sqrt(2)))


# Scalar φ, φ', φ'' written independently of initcmp.analysis.theory, from the Keras definitions.
REF = {
    "relu": (lambda u: max(u, 0.0), lambda u: float(u > 0), lambda u: 0.0),
    "tanh": (
        math.tanh,
        lambda u: 1 - math.tanh(u) ** 2,
        lambda u: -2 * math.tanh(u) * (1 - math.tanh(u) ** 2),
    ),
    "sigmoid": (_s, lambda u: _s(u) * _s(-u), lambda u: _s(u) * _s(-u) * (1 - 2 * _s(u))),
    "elu": (
        lambda u: u if u > 0 else math.expm1(u),
        lambda u: 1.0 if u > 0 else math.exp(u),
        lambda u: 0.0 if u > 0 else math.exp(u),
    ),
    "selu": (
        lambda u: S * (u if u > 0 else A * math.expm1(u)),
        lambda u: S * (1.0 if u > 0 else A * math.exp(u)),
        lambda u: 0.0 if u > 0 else S * A * math.exp(u),
    ),
    "gelu": (
        lambda u: u * _gelu_cdf(u),
        lambda u: _gelu_cdf(u) + u * _pdf(u),
        lambda u: _pdf(u) * (2 - u * u),
    ),
    "swish": (
        lambda u: u * _s(u),
        lambda u: _s(u) + u * _s(u) * _s(-u),
        lambda u: _s(u) * _s(-u) * (2 + u * (1 - 2 * _s(u))),
    ),
    "linear": (lambda u: u, lambda u: 1.0, lambda u: 0.0),
}
KINDS = {
    "phi": lambda r: r[0],
    "phi2": lambda r: lambda u: r[0](u) ** 2,
    "dphi2": lambda r: lambda u: r[1](u) ** 2,
    "curv": lambda r: lambda u: r[0](u) * r[2](u),
}


def _z_integral(h, centre: float, width: float) -> float:
    """∫ h(z) dz over [−12, 12] by scipy's adaptive quad, split at `centre` and given
    breakpoints at centre ± width·{1, 4, 16} (the scales of the integrand)."""
    near = {centre + sign * k * width for k in (1, 4, 16) for sign in (1, -1)}
    total = 0.0
    for a, b in ((-12.0, min(centre, 12.0)), (max(centre, -12.0), 12.0)):
        if b > a:
            pts = sorted(p for p in near | {-2.0, 2.0} if a < p < b)
            total += quad(h, a, b, points=pts or None, epsabs=1e-14, epsrel=1e-9, limit=400)[0]
    return total


def ref_1d(f, q: float) -> float:
    r = math.sqrt(q)
    return _z_integral(lambda z: f(r * z) * _pdf(z), 0.0, 1 / r)


def ref_2d(f, g, q: float, c: float) -> float:
    """E[f(u₁) g(u₂)] by nested adaptive quad (dblquad's scheme, with breakpoints)."""
    r, s = math.sqrt(q), math.sqrt(1 - c * c)

    def inner(z1):
        return _z_integral(lambda z2: g(r * (c * z1 + s * z2)) * _pdf(z2), -c * z1 / s, 1 / (r * s))

    return _z_integral(lambda z1: f(r * z1) * inner(z1) * _pdf(z1), 0.0, 1 / r)


def close(value: float, expected: float, rel: float = 1e-6, scale: float = 1.0) -> bool:
    return abs(value - expected) <= rel * abs(expected) + 1e-12 * scale


@pytest.mark.parametrize("name", ACTS)
def test_the_activations_match_the_scalar_definitions_and_their_derivatives(name):
    a = theory.ACTIVATIONS[name]
    u = np.array([-30.0, -3.1, -0.7, -1e-3, 1e-3, 0.4, 2.2, 30.0])
    for fn, ref in zip((a.phi, a.dphi, a.d2phi), REF[name]):
        np.testing.assert_allclose(fn(u), [ref(x) for x in u], rtol=1e-12, atol=1e-15)
    h = 1e-5  # and φ', φ'' are the derivatives (central differences, away from the kink)
    v = u[np.abs(u) > 0.1]
    np.testing.assert_allclose(a.dphi(v), (a.phi(v + h) - a.phi(v - h)) / (2 * h), atol=1e-8)
    np.testing.assert_allclose(a.d2phi(v), (a.dphi(v + h) - a.dphi(v - h)) / (2 * h), atol=1e-8)


@pytest.mark.parametrize("name", ACTS)
def test_1d_expectations_match_adaptive_quad(name):
    for q in (1e-4,) + QS + (1e4,):
        for kind, make in KINDS.items():
            expected = ref_1d(make(REF[name]), q)
            value = theory.moment(name, kind, q, numeric=True)
            assert close(value, expected, scale=1 + q), (name, kind, q, value, expected)


@pytest.mark.parametrize("name", ACTS)
def test_2d_expectations_match_nested_adaptive_quad(name):
    for q, c in zip(QS, (-0.6, 0.3, 0.9, -0.6, 0.3)):
        for kind, index in (("phi", 0), ("dphi", 1)):
            f = REF[name][index]
            expected = ref_2d(f, f, q, c)
            value = theory.cross_moment(name, kind, q, c, numeric=True)
            assert close(value, expected, scale=1 + q), (name, kind, q, c, value, expected)


def test_relu_and_linear_closed_forms_match_the_quadrature():
    for name in ("relu", "linear"):
        for q in (1e-4, 0.3, 1.0, 50.0, 1e4):
            for kind in KINDS:
                closed, numeric = (theory.moment(name, kind, q, numeric=n) for n in (False, True))
                assert close(numeric, closed, scale=1 + q), (name, kind, q)
            for c in (-1.0, -0.2, 0.0, 0.99, 1 - 1e-8):
                for kind in ("phi", "dphi"):
                    closed = theory.cross_moment(name, kind, q, c)
                    numeric = theory.cross_moment(name, kind, q, c, numeric=True)
                    assert close(numeric, closed, scale=1 + q), (name, kind, q, c)
    assert theory.chi_1("relu", 3.0, 7.0) == 1.5 and theory.chi_1("linear", 3.0, 7.0) == 3.0
    assert theory.cross_moment("relu", "phi", 2.0, 1.0) == pytest.approx(1.0)  # q/2 at c = 1
    assert theory.cross_moment("relu", "dphi", 2.0, 0.0) == pytest.approx(0.25)


@pytest.mark.parametrize("name", ACTS)
def test_monte_carlo_agrees_within_its_standard_error(name):
    rng = np.random.default_rng(16)
    q, c, n = 2.5, 0.5, 1_000_000
    a = theory.ACTIVATIONS[name]
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    u1, u2 = math.sqrt(q) * z1, math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    samples = {
        ("phi2", None): a.phi(u1) ** 2,
        ("dphi2", None): a.dphi(u1) ** 2,
        ("phi", c): a.phi(u1) * a.phi(u2),
        ("dphi", c): a.dphi(u1) * a.dphi(u2),
    }
    for (kind, corr), x in samples.items():
        value = (
            theory.moment(name, kind, q) if corr is None else theory.cross_moment(name, kind, q, c)
        )
        assert abs(x.mean() - value) <= 5 * x.std() / math.sqrt(n) + 1e-12, (name, kind)


@pytest.mark.parametrize("name", ACTS)
def test_the_length_map_slope_is_its_derivative(name):
    for q in (0.05, 0.7, 6.0, 80.0):
        h = 1e-4 * q
        numeric = theory.length_map(name, 1.3, 0.1, q + h) - theory.length_map(
            name, 1.3, 0.1, q - h
        )
        assert theory.length_map_slope(name, 1.3, q) == pytest.approx(numeric / (2 * h), rel=1e-6)


def test_q_star_closed_forms_and_fixed_points():
    assert theory.q_star("relu", 1.0, 0.1) == pytest.approx(0.2)
    assert theory.q_star("linear", 0.5, 0.1) == pytest.approx(0.2)
    assert theory.q_star("relu", 2.0, 0.0, 3.7) == 3.7  # exactly critical: every q is fixed
    assert theory.q_star("linear", 1.0, 0.0, 0.4) == 0.4
    assert theory.q_star("relu", 2.0, 0.1) == math.inf
    assert theory.q_star("relu", 2.5, 0.0) == math.inf
    assert theory.q_star("linear", 1.2, 0.0) == math.inf
    assert theory.q_star("relu", 1.5, 0.0) == 0.0
    assert theory.q_star("tanh", 0.8, 0.0) == 0.0
    assert theory.q_star("elu", 2.5, 0.1) == math.inf
    for name in ACTS:
        for sw, sb in ((0.7, 0.05), (1.5, 0.2), (3.0, 0.01)):
            qs = theory.q_star(name, sw, sb, 1.0)
            if 0 < qs < math.inf:
                assert theory.length_map(name, sw, sb, qs) == pytest.approx(qs, rel=1e-9)


def test_known_critical_points():
    assert theory.critical_weight_variance("relu", 0.0) == 2.0
    assert theory.critical_weight_variance("linear", 0.0) == 1.0
    assert theory.critical_weight_variance("relu", 0.05) is None  # q* = inf at σ_w² = 2
    assert theory.critical_weight_variance("linear", 0.05) is None
    assert theory.critical_weight_variance("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    # Schoenholz et al. 2017, Fig. 1: tanh at σ_b² = 0.05 is critical near σ_w² = 1.76.
    sw = theory.critical_weight_variance("tanh", 0.05)
    assert sw == pytest.approx(1.76095, abs=1e-4)
    qs = theory.q_star("tanh", sw, 0.05)
    assert theory.chi_1("tanh", sw, qs) == pytest.approx(1.0, abs=1e-9)
    # the same point from the critical line parametrized by q* (scipy quad alone)
    f, df, _ = REF["tanh"]
    sw_q = 1 / ref_1d(lambda u: df(u) ** 2, qs)
    assert qs - sw_q * ref_1d(lambda u: f(u) ** 2, qs) == pytest.approx(0.05, rel=1e-8)
    assert sw == pytest.approx(sw_q, rel=1e-8)
    for name in ("elu", "selu", "sigmoid"):
        sw = theory.critical_weight_variance(name, 0.05)
        assert sw is not None
        chi = theory.chi_1(name, sw, theory.q_star(name, sw, 0.05))
        assert chi == pytest.approx(1.0, abs=1e-9)


def test_relu_chi_and_phases():
    for sw in (0.5, 1.0, 1.9, 2.0, 3.0):
        s = theory.summary("relu", sw, 0.0)
        assert s["chi_1"] == sw / 2
        # beyond σ_w² = 2 ReLU has no fixed point (q* = inf): exploding, not chaotic
        assert s["phase"] == ("ordered" if sw < 2 else "critical" if sw == 2 else "exploding")
    assert theory.summary("tanh", 1.0, 0.0)["phase"] == "critical"
    assert theory.summary("tanh", 4.0, 0.05)["phase"] == "chaotic"  # bounded: q* finite
    exploding = predict_meaning("relu", 4.0)
    assert "no fixed point: the signal grows without bound" in exploding
    assert theory.summary("tanh", 0.5, 0.05)["phase"] == "ordered"


def test_correlations_in_both_phases():
    for name, sw, sb in (("tanh", 1.2, 0.05), ("sigmoid", 4.0, 0.1), ("elu", 1.0, 0.1)):
        s = theory.summary(name, sw, sb)
        assert s["phase"] == "ordered" and s["c_star"] == 1.0
        assert s["chi_c"] == s["chi_1"] < 1
        # χ_c is continuous at c* = 1: the 2-D quadrature just below c = 1 gives χ₁
        near = theory.chi_c(name, sw, s["q_star"], 1 - 1e-9)
        assert near == pytest.approx(s["chi_1"], rel=1e-4)
    for name, sw, sb in (("tanh", 3.0, 0.05), ("tanh", 2.0, 0.0), ("selu", 1.76, 0.05)):
        s = theory.summary(name, sw, sb)
        assert s["phase"] == "chaotic" and 0 <= s["c_star"] < 1
        cmap = theory.correlation_map(name, sw, sb, s["c_star"], s["q_star"])
        assert cmap == pytest.approx(s["c_star"], abs=1e-10)
        assert s["chi_c"] < 1 and 0 < s["xi_c"] < math.inf
    assert theory.summary("tanh", 2.0, 0.0)["c_star"] == 0.0  # odd φ, no bias


def test_xi_c_is_finite_off_the_critical_line_and_large_near_it():
    crit = theory.critical_weight_variance("tanh", 0.05)
    far = [theory.summary("tanh", sw, 0.05)["xi_c"] for sw in (0.5, 1.0, 3.0, 5.0)]
    near = [theory.summary("tanh", crit * f, 0.05)["xi_c"] for f in (0.99, 1.01)]
    assert all(0 < x < 15 for x in far) and all(50 < x < math.inf for x in near)
    assert theory.summary("tanh", crit, 0.05)["xi_c"] > 1000
    assert theory.depth_scale(1.0) == math.inf and theory.depth_scale(
        math.exp(-0.5)
    ) == pytest.approx(2.0)


def test_layer_predictions():
    rows = theory.layer_predictions("tanh", 2.0, 0.05, 0.8, 6)
    assert [r["layer"] for r in rows] == list(range(1, 7)) and rows[0]["q"] == 0.8
    for prev, row in zip(rows, rows[1:]):
        assert row["q"] == pytest.approx(theory.length_map("tanh", 2.0, 0.05, prev["q"]))
    for k, row in enumerate(rows):
        m2 = theory.moment("tanh", "phi2", row["q"])
        assert row["activation_std"] ** 2 + row["activation_mean"] ** 2 == pytest.approx(m2)
        assert row["chi"] == pytest.approx(theory.chi_1("tanh", 2.0, row["q"]))
        expected = math.prod(r["chi"] for r in rows[k:-1])
        assert row["gradient_variance_ratio"] == pytest.approx(expected)
    relu = theory.layer_predictions("relu", 2.0, 0.0, 1.0, 4)
    assert all(r["q"] == 1.0 and r["gradient_variance_ratio"] == 1.0 for r in relu)
    grow = theory.layer_predictions("relu", 3.0, 0.0, 1.0, 3)
    assert [r["q"] for r in grow] == [1.0, 1.5, 2.25]


def test_a_wide_random_network_follows_the_maps():
    """Forward only, width 1000, 32 pairs of inputs of correlation ~0.6: the measured q^l,
    activation std and c^l against the maps run from the first layer's q¹ and c¹. (Across
    seeds the worst layers part from the theory by ~2-4 % in q, 1 % in std, 0.02 in c.)"""
    rng = np.random.default_rng(7)
    width, depth, sw, sb, pairs = 1000, 8, 2.5, 0.05, 32
    first = rng.standard_normal((pairs, width))
    second = 0.6 * first + 0.8 * rng.standard_normal((pairs, width))
    x = np.concatenate([first, second])
    q = sw * np.mean(x**2) + sb
    c = (sw * np.mean(first * second) + sb) / q
    rows = theory.layer_predictions("tanh", sw, sb, q, depth)
    for row in rows:
        w = rng.standard_normal((width, width)) * math.sqrt(sw / width)
        h = x @ w + rng.standard_normal(width) * math.sqrt(sb)  # one bias for every input
        assert np.mean(h**2) == pytest.approx(row["q"], rel=0.06)
        assert np.std(np.tanh(h)) == pytest.approx(row["activation_std"], rel=0.02)
        assert np.mean(h[:pairs] * h[pairs:]) / np.mean(h**2) == pytest.approx(c, abs=0.04)
        if row["layer"] < depth:  # c^{l+1} = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q^{l+1}
            q_next = rows[row["layer"]]["q"]
            c = theory.correlation_map("tanh", sw, sb, c, row["q"]) * row["q"] / q_next
        x = np.tanh(h)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ACTS),
    st.floats(0.1, 5.0, allow_nan=False),
    st.floats(0.0, 0.5, allow_nan=False),
)
def test_the_summary_is_never_nan(name, sw, sb):
    s = theory.summary(name, sw, sb, depth=6)
    assert list(s) == list(theory.SUMMARY_KEYS)
    assert s["activation"] == name and s["phase"] in ("ordered", "critical", "chaotic", "exploding")
    for key in theory.SUMMARY_KEYS[1:-2]:
        assert isinstance(s[key], float) and not math.isnan(s[key]), (key, s[key])
    assert 0 <= s["c_star"] <= 1 and s["q_star"] >= 0 and s["xi_c"] >= 0 and s["xi_q"] >= 0
    for row in s["layers"]:
        assert not any(math.isnan(v) for v in row.values()), row


def test_bad_input_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown activation"):
        theory.summary("softsign", 1.0, 0.0)
    for sw, sb in ((0.0, 0.0), (-1.0, 0.0), (1.0, -0.1), (math.nan, 0.0), (1.0, math.inf)):
        with pytest.raises(ConfigError):
            theory.summary("tanh", sw, sb)
    with pytest.raises(ConfigError):
        theory.critical_weight_variance("tanh", -0.1)


def test_importing_the_theory_loads_neither_scipy_nor_tensorflow():
    code = (
        "import sys, initcmp.analysis.theory as t; "
        "print(sorted({'scipy', 'tensorflow'} & set(sys.modules)))"
    )
    out = python("-c", code, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ACTS)
def test_the_activations_are_keras_own(name):
    keras = pytest.importorskip("keras")
    u = np.linspace(-12.0, 12.0, 2001)
    expected = keras.activations.get(name)(keras.ops.convert_to_tensor(u, dtype="float64"))
    # float64 Keras; its exact (erf) gelu is itself good to ~5e-9 there
    np.testing.assert_allclose(theory.ACTIVATIONS[name].phi(u), np.asarray(expected), atol=1e-8)


def predict_meaning(act: str, sw: float) -> str:
    from initcmp.analysis import predict

    return predict.meaning(theory.summary(act, sw, 0.0, depth=5), 5)
