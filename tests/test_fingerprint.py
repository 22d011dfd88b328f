"""This machine computes initcmp's numbers bit for bit as the reference does.

Every registered initializer's initial weights on the default and the deep network, and
the default comparison's nine final weights, against tests/fingerprints.json. A failure
names the initializer (or run) whose numbers this machine computes differently, so the
drift is found before a published number is: the default comparison's table and the
documentation's other results would then not reproduce here. A change meant to change results
rewrites the reference with `python tests/fingerprint.py`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fingerprint import (
    NETWORKS,
    REFERENCE,
    default_compare_digests,
    initial_digest,
    mismatch,
    network_config,
)
from initcmp.inits import registry

REF = json.loads(REFERENCE.read_text())


def test_the_reference_covers_every_initializer_and_network():
    assert set(REF["initial"]) == set(NETWORKS)
    for network, digests in REF["initial"].items():
        assert set(digests) == set(registry.REGISTRY), network
    assert len(REF["default_compare"]) == 9


@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("init", list(registry.REGISTRY))
def test_initial_weights_match_the_reference(init, network, mnist):
    got = initial_digest(network_config(network, init), mnist)
    want = REF["initial"][network][init]
    assert got == want, mismatch(f"initializer {init!r} on the {network} network", got, want)


def test_the_default_comparison_ends_on_the_reference_weights(tmp_path, mnist):
    got = default_compare_digests(mnist, tmp_path)
    assert sorted(got) == sorted(REF["default_compare"])
    for run, want in REF["default_compare"].items():
        assert got[run] == want, mismatch(f"default comparison run {run}", got[run], want)


@pytest.mark.parametrize("init", ["he", "orthogonal", "lsuv"])
def test_one_ulp_in_one_weight_fails_the_check(init, mnist):
    """The check's sensitivity: the same initializer with one weight of each kernel (the
    first) moved by one unit in the last place, as its draw gave it, before LSUV's
    rescaling, no longer matches the reference."""
    from initcmp.engine import models

    def one_ulp_off(model):
        for layer in models.dense_layers(model):
            w = np.array(layer.kernel)
            w.flat[0] = np.nextafter(w.flat[0], np.float32(np.inf))
            layer.kernel.assign(w)

    got = initial_digest(network_config("default", init), mnist, change=one_ulp_off)
    assert got != REF["initial"]["default"][init]
