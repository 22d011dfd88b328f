"""LSUV gives the same weights whichever float32 matmul kernels the machine runs."""

from __future__ import annotations

import os

from helpers import python

SHAS = """
from initcmp.data import sources
from initcmp.engine import lsuv
from initcmp.engine import models
from initcmp.engine import runtime
from helpers import synthetic_config

runtime.tensorflow()
syn = sources.synthetic()
for seed in (0, 1):
    cfg = synthetic_config("lsuv", f"model.hidden={[256] * 20}", seed=seed)
    model = models.build_model(cfg)
    lsuv.apply(model, cfg, syn)
    print(models.weights_sha256(model))
"""


def test_lsuv_weights_do_not_depend_on_the_cpu_matmul_kernels():
    """oneDNN and Eigen sum a float32 matmul in different orders, as two CPUs do; before
    LSUV's statistics were taken in float64, the 20-layer weights differed between them
    (and the deep-network numbers of docs/science/inspect.md between machines)."""
    here = os.path.dirname(__file__)
    shas = []
    for onednn in ("1", "0"):
        env = {
            "TF_ENABLE_ONEDNN_OPTS": onednn,
            "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]),
        }
        proc = python("-c", SHAS, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        shas.append(proc.stdout.split())
    assert len(shas[0]) == 2 and shas[0] == shas[1]
