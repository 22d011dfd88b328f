"""The fingerprints of initcmp's numbers: the sha256 of every registered initializer's
initial weights (seed 0) on the default network and on the deep one, and the default
comparison's nine final `weights_sha256`. tests/fingerprints.json holds the reference;
tests/test_fingerprint.py checks this machine against it.

The reference is rewritten only on purpose, by a change meant to change results:

    .venv/bin/python tests/fingerprint.py      # rewrites tests/fingerprints.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REFERENCE = Path(__file__).with_name("fingerprints.json")
NETWORKS = {"default": None, "deep": "deep_mlp"}  # the shipped config each network is from


def network_config(network: str, init: str):
    """The config of `network` ("default" or "deep") with `init` at its defaults, seed 0."""
    from initcmp.config.resolve import Override, load

    return load(
        NETWORKS[network], [Override("init.name", init, "--init"), Override("seed", 0, "--seed")]
    )


def initial_digest(cfg, dataset, change=None) -> str:
    """The sha256 of a run's weights before its first step (LSUV's rescaling applied).
    `change(model)`, if given, changes the initializer's weights first (the tests'
    sensitivity check)."""
    from initcmp.engine import lsuv
    from initcmp.engine import models
    from initcmp.engine import runtime

    runtime.tensorflow()
    model = models.build_model(cfg)
    if change is not None:
        change(model)
    if cfg.init.name == "lsuv":
        lsuv.apply(model, cfg, dataset)
    return models.weights_sha256(model)


def initial_digests(dataset) -> dict[str, dict[str, str]]:
    """{network: {initializer: digest}} for every registered initializer."""
    from initcmp.inits import registry

    return {
        network: {
            init: initial_digest(network_config(network, init), dataset)
            for init in registry.REGISTRY
        }
        for network in NETWORKS
    }


def default_compare_digests(dataset, root: Path) -> dict[str, str]:
    """{run name: final weights_sha256} of the default comparison (`make run`), trained
    under `root`."""
    from initcmp.experiments import compare
    from initcmp.config.resolve import load

    cfg = load(None, [])
    records = compare.run(cfg, lambda: dataset, checkpoint_root=root / "ck", log_root=root / "logs")
    return {f"{r['init']}-s{r['seed']}": r["weights_sha256"] for r in records}


def mismatch(what: str, got: str, want: str) -> str:
    """The one line a drift fails with: what differs, and what that means."""
    return (
        f"{what}: this machine computes a different result than the reference "
        f"(sha256 {got[:16]}..., reference {want[:16]}...), so its numbers will differ "
        "from the published ones"
    )


if __name__ == "__main__":
    import tempfile

    from initcmp.data import sources

    mnist = sources.load_mnist()
    with tempfile.TemporaryDirectory() as tmp:
        reference = {
            "initial": initial_digests(mnist),
            "default_compare": default_compare_digests(mnist, Path(tmp)),
        }
    REFERENCE.write_text(json.dumps(reference, indent=2, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE}", file=sys.stderr)
