"""The initializer registry: every entry's Keras initializer matches its own formula."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from initcmp.inits import registry
from initcmp.errors import ConfigError
from helpers import python

SHAPES = [(1024, 512), (784, 256)]
REL_TOL = 0.03


@pytest.fixture(scope="module")
def keras():
    import keras  # slow (TensorFlow): once per module

    return keras


def defaults(name: str) -> dict:
    return registry.default_params(name)


def sample(keras, name, params, shape, seed=0, layer=0) -> np.ndarray:
    init = registry.build(name, params, seed=seed, layer=layer)
    w = np.asarray(keras.ops.convert_to_numpy(init(shape)), dtype=np.float64)
    assert w.shape == shape
    assert np.isfinite(w).all()
    return w


def assert_std(w: np.ndarray, expected: float) -> None:
    assert expected > 0
    assert w.std() == pytest.approx(expected, rel=REL_TOL)


def assert_mean(w: np.ndarray, expected: float = 0.0) -> None:
    # a few standard errors of the mean (std / sqrt(n)); orthogonal is no worse
    assert abs(w.mean() - expected) < 5 * w.std() / math.sqrt(w.size) + 1e-12


def test_registry_is_not_empty_and_names_match():
    assert {"random", "glorot", "he", "zeros", "orthogonal"} <= set(registry.REGISTRY)
    for name, spec in registry.REGISTRY.items():
        assert spec.name == name
        assert spec.formula and spec.reference


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(registry.REGISTRY))
def test_every_initializer_matches_its_expected_std(keras, name, shape):
    params = defaults(name)
    w = sample(keras, name, params, shape)
    expected = registry.expected_std(name, params, *shape)
    if name == "zeros":
        assert expected == 0.0
        assert not w.any()
        return
    if name == "lsuv":  # data-dependent (engine/lsuv.py, tests/test_diagnose.py): its start is
        assert expected is None  # orthogonal with gain 1
        expected = registry.expected_std("orthogonal", {"gain": 1.0}, *shape)
    assert_std(w, expected)
    assert_mean(w, params.get("mean", 0.0))


@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_modes_and_distributions(keras, mode, distribution):
    params = {"scale": 2.0, "mode": mode, "distribution": distribution}
    fan_in, fan_out = 784, 256
    w = sample(keras, "variance_scaling", params, (fan_in, fan_out))
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    expected = math.sqrt(2.0 / n)
    assert registry.expected_std("variance_scaling", params, fan_in, fan_out) == pytest.approx(
        expected
    )
    assert_std(w, expected)
    assert_mean(w)
    if distribution == "uniform":
        limit = math.sqrt(3) * expected
        assert np.abs(w).max() <= limit * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * limit
    elif distribution == "truncated_normal":
        # cut at two standard deviations of the (widened) underlying normal
        assert np.abs(w).max() <= 2 * expected / registry.TRUNCATION_STD * (1 + 1e-6)
    else:
        assert np.abs(w).max() > 3 * expected  # a plain normal has tails


def test_orthogonal_with_gain_2(keras):
    params = {"gain": 2.0}
    for fan_in, fan_out in SHAPES:
        w = sample(keras, "orthogonal", params, (fan_in, fan_out))
        expected = registry.expected_std("orthogonal", params, fan_in, fan_out)
        assert expected == pytest.approx(2.0 / math.sqrt(max(fan_in, fan_out)))
        assert_std(w, expected)
        # gain x orthonormal columns (fan_in >= fan_out here)
        np.testing.assert_allclose(w.T @ w, 4.0 * np.eye(fan_out), atol=1e-3)


def test_random_with_stddev_half(keras):
    params = {"mean": 0.0, "stddev": 0.5}
    w = sample(keras, "random", params, (1024, 512))
    assert registry.expected_std("random", params, 1024, 512) == 0.5
    assert_std(w, 0.5)
    assert_mean(w)


def test_random_with_mean(keras):
    params = {"mean": 0.3, "stddev": 0.5}
    w = sample(keras, "random", params, (1024, 512))
    assert_std(w, 0.5)
    assert_mean(w, 0.3)


def test_random_default_is_tf1_stddev_one(keras):
    assert defaults("random") == {"mean": 0.0, "stddev": 1.0}
    assert_std(sample(keras, "random", defaults("random"), (1024, 512)), 1.0)


@pytest.mark.parametrize("stddev", [0.05, 1.0])
def test_truncated_normal_std_is_088_stddev(keras, stddev):
    params = {"mean": 0.0, "stddev": stddev}
    w = sample(keras, "truncated_normal", params, (1024, 512))
    expected = registry.expected_std("truncated_normal", params, 1024, 512)
    assert expected == pytest.approx(0.88 * stddev, rel=0.001)
    assert_std(w, expected)
    assert np.abs(w).max() <= 2 * stddev * (1 + 1e-6)
    assert_mean(w)


def test_random_uniform_bounds(keras):
    params = {"minval": -0.2, "maxval": 0.6}
    w = sample(keras, "random_uniform", params, (1024, 512))
    assert w.min() >= -0.2 and w.max() <= 0.6
    assert_std(w, registry.expected_std("random_uniform", params, 1024, 512))
    assert_std(w, 0.8 / math.sqrt(12))
    assert_mean(w, 0.2)


@pytest.mark.parametrize("name", [n for n in registry.REGISTRY if n != "zeros"])
def test_layers_seeds_and_reproducibility(keras, name):
    params = defaults(name)
    shape = (64, 32)
    w00 = sample(keras, name, params, shape, seed=0, layer=0)
    assert np.array_equal(w00, sample(keras, name, params, shape, seed=0, layer=0))
    assert not np.array_equal(w00, sample(keras, name, params, shape, seed=0, layer=1))
    assert not np.array_equal(w00, sample(keras, name, params, shape, seed=1, layer=0))


def test_one_initializer_called_twice_is_reproducible(keras):
    init = registry.build("he", {"mode": "fan_in"}, seed=3, layer=2)
    a = keras.ops.convert_to_numpy(init((32, 16)))
    b = keras.ops.convert_to_numpy(init((32, 16)))
    assert np.array_equal(a, b)


def test_layer_seed_is_deterministic_and_distinct():
    grid = list(itertools.product(range(10), range(10)))
    seeds = [registry.layer_seed(s, layer) for s, layer in grid]
    assert seeds == [registry.layer_seed(s, layer) for s, layer in grid]
    assert len(set(seeds)) == len(grid)
    assert all(type(x) is int and 0 <= x < 2**31 for x in seeds)
    # not symmetric in its arguments
    assert registry.layer_seed(1, 2) != registry.layer_seed(2, 1)


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        registry.get("nope")
    message = str(info.value)
    assert "'nope'" in message
    for name in registry.REGISTRY:
        assert name in message
    assert "\n" not in message


def test_build_unknown_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown initializer 'nope'"):
        registry.build("nope", {}, seed=0, layer=0)


def test_check_params_random_uniform():
    registry.check_params("random_uniform", {"minval": -1.0, "maxval": 1.0})
    with pytest.raises(ConfigError, match="'init.minval'"):
        registry.check_params("random_uniform", {"minval": 1.0, "maxval": -1.0})


def test_importing_initializers_does_not_import_keras():
    code = (
        "import sys, initcmp.inits.registry, initcmp.config.schema; "
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = python("-c", code, check=True).stdout.split()
    assert out == ["False", "False"]
