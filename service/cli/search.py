"""``precedent suggest``, ``precedent index build|status`` and ``precedent evaluate retrieve``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from service.cli.common import echo_json, fail, read_csv_frame, settings, store_session


@click.command("suggest")
@click.argument("text")
@click.option("--client", "client_id", type=int, default=None, help="Boost incidents of this client id.")
@click.option("--k", type=int, default=5, show_default=True, help="How many similar incidents to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def suggest(text: str, client_id: int | None, k: int, as_json: bool) -> None:
    """Similar resolved incidents, knowledge articles and known problems for TEXT."""
    from kb.models import Client
    from service.search import service as search

    if not text.strip():
        fail("TEXT must not be empty")
    if not 1 <= k <= search.MAX_K:
        fail(f"--k must be between 1 and {search.MAX_K}")
    config = settings()
    with store_session(config) as session:
        if client_id is not None and session.get(Client, client_id) is None:
            fail(f"--client: no client with id {client_id}")
        try:
            result = search.suggest(session, text=text, client_id=client_id, k=k)
        except search.SearchUnavailable as exc:
            fail(str(exc), code=1)
    if as_json:
        echo_json(result)
        return
    for section, title in (("incidents", "Similar resolved incidents"), ("articles", "Knowledge articles"),
                           ("known_problems", "Known problems")):
        click.echo(f"== {title} ==")
        if not result[section]:
            click.echo("  (none)")
        for item in result[section]:
            name = item.get("subject") or item.get("title")
            ref = f"#{item['id']}"
            click.echo(f"  {ref} {name}  [score {item['score']:.4f}; {'; '.join(item['reasons'])}]")
            detail = item.get("resolution") or item.get("workaround") or item.get("snippet")
            if detail:
                click.echo("      " + " ".join(detail.split())[:200])
    click.echo(f"({result['took_ms']} ms)")


@click.group("index")
def index() -> None:
    """Build and inspect the similar-fix search index under <var>/index/."""


@index.command("build")
def index_build() -> None:
    """Index every resolved incident, article and known problem of the store; prints a JSON summary."""
    from service.search import service as search

    config = settings()
    started = time.perf_counter()
    try:
        with store_session(config) as session:
            built = search.build_index(session, config)
    except Exception as exc:  # an unusable embedder or store is reported in one line
        fail(f"index build failed: {exc}", code=1)
    search.forget_loaded()
    echo_json({
        "index_dir": str(config.index_dir),
        "embedder": config.search_embedder,
        "counts": {kind: len(r) for kind, r in built.retrievers.items()},
        "index_kind": {kind: r.dense_kind for kind, r in built.retrievers.items()},
        "seconds": round(time.perf_counter() - started, 2),
    })


@index.command("status")
def index_status() -> None:
    """Print the manifests of the persisted index."""
    from ml.retrieval import HybridRetriever, IndexMismatchError
    from service.search.service import KINDS

    config = settings()
    out = {}
    for kind in KINDS:
        try:
            out[kind] = HybridRetriever.read_manifest(config.index_dir / kind)
        except IndexMismatchError as exc:
            out[kind] = {"error": str(exc)}
    echo_json(out)


@click.command("retrieve")
@click.option("--corpus", "corpus_path", required=True, type=click.Path(path_type=Path),
              help="CSV of documents to search.")
@click.option("--id", "id_column", required=True, help="Corpus column with the document id.")
@click.option("--text", "text_columns", required=True,
              help="Corpus text columns, comma-separated; the first is the title-like field.")
@click.option("--queries", "queries_path", required=True, type=click.Path(path_type=Path),
              help="CSV of queries.")
@click.option("--query-text", "query_column", required=True, help="Queries column with the query text.")
@click.option("--relevant", "relevant_column", required=True,
              help="Queries column with the relevant corpus ids (separated by | ; , or spaces).")
@click.option("--k", type=int, default=10, show_default=True, help="Result depth (recall@k is also reported).")
@click.option("--kind", type=click.Choice(["incident", "article", "known_problem"]), default="incident",
              show_default=True, help="Whose relevance floor (PRECEDENT_SEARCH_MIN_SCORE_<KIND>) applies.")
def evaluate_retrieve(corpus_path: Path, id_column: str, text_columns: str, queries_path: Path,
                      query_column: str, relevant_column: str, k: int, kind: str) -> None:
    """Index CORPUS with the service's retriever, run every query and print recall@1/5/10, MRR and timings."""
    from ml.retrieval_evaluation import EvaluationInputError, evaluate_retrieval
    from service.search import service as search

    if k < 1:
        fail("--k must be at least 1")
    columns = [c.strip() for c in text_columns.split(",") if c.strip()]
    if not columns:
        fail("--text: name at least one column")
    corpus = _read_csv(corpus_path, "--corpus")
    queries = _read_csv(queries_path, "--queries")
    config = settings()
    try:
        model = search.embedder(config)
        fusion = search.fusion_config(config, kind)
        result = evaluate_retrieval(
            corpus, queries, id_column=id_column, text_columns=columns, query_column=query_column,
            relevant_column=relevant_column, embedder=model, config=fusion, k=k,
            dense_max_chars=config.search_dense_max_chars, hnsw_threshold=config.search_hnsw_threshold)
    except EvaluationInputError as exc:
        option = "--queries" if str(exc).startswith("queries") else "--corpus"
        fail(f"{option} {queries_path if option == '--queries' else corpus_path}: {exc}")
    except ValueError as exc:
        fail(str(exc))
    echo_json(result)


def _read_csv(path: Path, option: str):
    frame = read_csv_frame(path, option)
    if frame.empty:
        fail(f"{option}: file {path} has no rows")
    return frame.fillna("")
