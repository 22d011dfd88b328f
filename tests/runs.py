"""What the tests compare between runs: importable by any test module (tests/ is on
sys.path under pytest's default import mode)."""

from __future__ import annotations

import json


def finished_runs(root) -> dict:
    """Per finished run under `root/logs`: its result's numbers and weights fingerprint,
    and its metrics rows without the wall-clock seconds."""
    out = {}
    for result in sorted((root / "logs").rglob("result.json")):
        row = json.loads(result.read_text())
        metrics = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                   for line in (result.parent / "metrics.jsonl").read_text().splitlines()]
        out[result.parent.name] = ({k: row[k] for k in ("weights_sha256", "test_accuracy",
                                                         "test_loss", "step", "diverged")},
                                   metrics)
    return out
