"""Choose one fusion configuration for several data sets from their dev grids (``tune_fusion --grid-out``).

The product searches Russian tickets, and the only real data sets are English, so neither alone may choose:
the configuration with the best mean dev MRR over the given grids wins (ties: mean dev recall@5). Prints the
choice with its dev and test numbers on every data set, and the runner-up configurations for context.

    python benchmarks/choose_weights.py var/eval/grid_endava.jsonl var/eval/grid_demo.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def key(line: dict) -> str:
    return json.dumps([line["embedder"], line["method"], line["rrf_k"], line["weights"]], sort_keys=True)


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    if not paths:
        sys.exit("usage: choose_weights.py GRID.jsonl [GRID.jsonl ...]")
    grids = {p.name: {key(line): line for line in map(json.loads, p.read_text().splitlines())} for p in paths}
    common = set.intersection(*(set(g) for g in grids.values()))

    def mean(config: str, split: str, metric: str) -> float:
        return sum(g[config][split][metric] for g in grids.values()) / len(grids)

    ranked = sorted(common, key=lambda c: (mean(c, "dev", "mrr"), mean(c, "dev", "recall@5")), reverse=True)
    def describe(config: str) -> dict:
        first = next(iter(grids.values()))[config]
        return {"embedder": first["embedder"], "method": first["method"], "rrf_k": first["rrf_k"],
                "weights": first["weights"], "mean_dev_mrr": round(mean(config, "dev", "mrr"), 4),
                "per_set": {name: {split: {m: round(v, 4) for m, v in g[config][split].items()}
                                   for split in ("dev", "test")} for name, g in grids.items()}}
    print(json.dumps({"chosen": describe(ranked[0]), "next": [describe(c) for c in ranked[1:4]]}, indent=2))


if __name__ == "__main__":
    main()
