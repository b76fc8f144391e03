"""Embedding throughput (texts per second) of each embedder backend on real help-desk ticket texts.

Texts: Endava tickets (title + body, cut to the retriever's 600 characters) from ../shared/data, or a
file with one text per line (--texts). Each backend embeds a warm-up batch first, then the timed texts
in one call, uncached. Prints one JSON object.

    python benchmarks/embedding_throughput.py [--embedders use-multilingual-v3,all-MiniLM-L6-v2]
                                              [--device cpu|cuda] [--n 2000] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "endava_tickets_subset.csv.gz"


def load_texts(path: Path | None, n: int, max_chars: int) -> list[str]:
    if path is not None:
        texts = [line.rstrip("\n") for line in path.open(encoding="utf-8") if line.strip()]
    else:
        import pandas as pd

        frame = pd.read_csv(DATA).fillna("")
        texts = (frame["title"] + ". " + frame["body"]).str.slice(0, max_chars).tolist()
    return [t[:max_chars] for t in texts[:n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", default="use-multilingual-v3,all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-chars", type=int, default=600)
    parser.add_argument("--texts", type=Path, default=None)
    args = parser.parse_args()

    from ml.embedders import make_embedder

    texts = load_texts(args.texts, args.n, args.max_chars)
    titles = [t.split(". ", 1)[0] or t[:60] for t in texts]
    report = {"n_texts": len(texts), "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
              "device": args.device, "cpu_count": os.cpu_count(), "machine": platform.node(), "backends": {}}
    try:
        import torch

        report["torch"] = torch.__version__
        if args.device.startswith("cuda"):
            report["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    for name in args.embedders.split(","):
        model = make_embedder(name, device=args.device, threads=args.threads, batch_size=args.batch_size)
        model.encode(texts[:64])
        entry = {}
        for label, batch in (("documents", texts), ("titles", titles)):
            started = time.perf_counter()
            model.encode(batch)
            seconds = time.perf_counter() - started
            entry[f"{label}_per_second"] = round(len(batch) / seconds, 1)
        entry["dimension"] = model.dimension
        report["backends"][getattr(model, "name", name)] = entry
        print(json.dumps({name: entry}), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
