"""How well `depth <= k·ξ_c` (Schoenholz et al. 2017) predicts which cells of a sweep
trained: reads a sweep.json with `model.depth` and an `init.` scale as its axes.

    python docs/trainable_depth.py logs/edge_of_chaos/sweeps/depth-scale-bd7ebef2/sweep.json \
        [--k 6] [--trained 0.2]

A cell "trained" if its mean train-set accuracy reached `--trained` (default 0.2,
twice chance: the level initcmp's tables mark as "at chance" below). Prints the
agreement table and, per value of the scale, the deepest cell that trained beside k·ξ_c.
"""

from __future__ import annotations

import argparse
import json
import math


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_json")
    parser.add_argument("--k", type=float, default=6.0)
    parser.add_argument("--trained", type=float, default=0.2)
    args = parser.parse_args()
    with open(args.sweep_json, encoding="utf-8") as f:
        summary = json.load(f)
    scale = next(k for k in summary["axes"] if k != "model.depth")
    counts = {(p, m): 0 for p in (True, False) for m in (True, False)}
    deepest: dict = {}
    for cell in summary["cells"]:
        depth, x = cell["values"]["model.depth"], cell["values"][scale]
        xi = math.inf if cell["xi_c"] == "inf" else cell["xi_c"]
        trained = (cell["mean_train_accuracy"] or 0) >= args.trained
        counts[(depth <= args.k * xi, trained)] += 1
        best = deepest.setdefault(x, [xi, 0])
        best[1] = max(best[1], depth if trained else 0)
    agree = counts[(True, True)] + counts[(False, False)]
    print(
        f"{agree} of {sum(counts.values())} cells agree with depth <= {args.k:g} ξ_c "
        f"(trained: train-set accuracy >= {args.trained:.0%})"
    )
    for (predicted, measured), n in counts.items():
        print(
            f"  predicted {'trains' if predicted else 'fails '}, "
            f"measured {'trained' if measured else 'failed '}: {n}"
        )
    print(f"{scale:>10}  {'ξ_c':>8}  {f'{args.k:g} ξ_c':>8}  deepest that trained")
    for x, (xi, depth) in sorted(deepest.items()):
        print(f"{x:>10g}  {xi:>8.3g}  {args.k * xi:>8.3g}  {depth or '-'}")


if __name__ == "__main__":
    main()
