"""ANN scale benchmark: HNSW vs exact search on clustered synthetic unit vectors.

For each size: build time, index memory, single-query p50/p95 latency (one query at a time, as the service
asks) and recall@10 of HNSW against exact inner-product search. Prints one JSON object per size and a
summary. Vectors have the default embedder's dimension (512) unless told otherwise.

    python benchmarks/ann_scale.py --sizes 10000,100000,1000000 [--queries 500] [--ef-search 64]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def clustered(n: int, dim: int, rng, clusters: int = 1000, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around random cluster centres (embeddings of tickets cluster by topic)."""
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        picks = rng.integers(0, clusters, stop - start)
        noise = rng.standard_normal((stop - start, dim)).astype(np.float32) * (spread / np.sqrt(dim))
        block = centres[picks] + noise
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def run(n: int, dim: int, n_queries: int, m: int, ef_construction: int, ef_search: int, seed: int) -> dict:
    import faiss

    from ml.index import VectorIndex

    rng = np.random.default_rng(seed)
    data = clustered(n + n_queries, dim, rng)
    base, queries = data[:n], data[n:]
    ids = np.arange(n, dtype=np.int64)
    started = time.perf_counter()
    hnsw = VectorIndex(dim, hnsw_threshold=0, hnsw_m=m, ef_construction=ef_construction, ef_search=ef_search)
    hnsw.build(ids, base)
    build_seconds = time.perf_counter() - started
    memory_mb = len(faiss.serialize_index(hnsw._index)) / 2**20  # vectors + graph + id map, as stored
    exact = faiss.IndexFlatIP(dim)
    exact.add(base)
    truth = exact.search(queries, 10)[1]
    latencies, found = [], []
    for query in queries:
        began = time.perf_counter()
        got, _ = hnsw.search(query[None, :], 10)
        latencies.append((time.perf_counter() - began) * 1000.0)
        found.append(got[0])
    recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)]))
    exact_latencies = []
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    for query in queries[:100]:
        began = time.perf_counter()
        exact.search(query[None, :], 10)
        exact_latencies.append((time.perf_counter() - began) * 1000.0)
    faiss.omp_set_num_threads(threads)
    return {"n": n, "dim": dim, "index": f"HNSW M={m} efConstruction={ef_construction} efSearch={ef_search}",
            "build_seconds": round(build_seconds, 1), "index_memory_mb": round(memory_mb, 1),
            "query_ms_p50": round(float(np.percentile(latencies, 50)), 3),
            "query_ms_p95": round(float(np.percentile(latencies, 95)), 3),
            "recall@10_vs_exact": round(recall, 4),
            "exact_query_ms_p50": round(float(np.percentile(exact_latencies, 50)), 3),
            "queries": len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--ef-search", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import faiss

    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        result = run(n, args.dim, args.queries, args.m, args.ef_construction, args.ef_search, args.seed)
        result["omp_threads_build"] = faiss.omp_get_max_threads()
        results.append(result)
        print(json.dumps(result), flush=True)
    print(json.dumps({"results": results, "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
