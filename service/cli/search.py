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
            dense_max_chars=config.search_dense_max_chars, hnsw_threshold=config.search_hnsw_threshold,
            clean=config.search_clean_text)
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


@click.group("search")
def search_group() -> None:
    """Fit the similar-fix search to this desk's data."""


@search_group.command("tune")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["incident", "article", "known_problem"]),
              help="Collection(s) to tune (repeatable); all three by default.")
@click.option("--pairs", "pairs_path", type=click.Path(path_type=Path), default=None,
              help="Optional labelled CSV: a query text column and the store ids relevant to it.")
@click.option("--pairs-text", default="query", show_default=True, help="--pairs column with the query text.")
@click.option("--pairs-relevant", default="relevant", show_default=True,
              help="--pairs column with relevant ids (separated by | ; , or spaces).")
@click.option("--pairs-kind", type=click.Choice(["incident", "article", "known_problem"]), default="incident",
              show_default=True, help="Which collection the --pairs ids belong to.")
@click.option("--folds", type=int, default=5, show_default=True, help="Cross-validation folds over the queries.")
@click.option("--min-queries", type=int, default=20, show_default=True,
              help="Fewer labelled queries than this keep the current setting.")
@click.option("--dry-run", is_flag=True, help="Report the choice without storing it.")
def search_tune(kinds: tuple[str, ...], pairs_path: Path | None, pairs_text: str, pairs_relevant: str,
                pairs_kind: str, folds: int, min_queries: int, dry_run: bool) -> None:
    """Choose fusion weights and relevance floors per collection on the desk's labelled pairs; prints JSON."""
    from service.search import service as search
    from service.search.tuning import tune_search

    if folds < 2:
        fail("--folds must be at least 2")
    if min_queries < 1:
        fail("--min-queries must be at least 1")
    extra = {pairs_kind: _read_pairs(pairs_path, pairs_text, pairs_relevant)} if pairs_path else None
    config = settings()
    with store_session(config) as session:
        try:
            result = tune_search(session, config, kinds=list(kinds or search.KINDS), folds=folds,
                                 extra_pairs=extra, min_queries=min_queries, store=not dry_run)
        except search.SearchUnavailable as exc:
            fail(str(exc), code=1)
    echo_json(result)


def _read_pairs(path: Path, text_column: str, relevant_column: str) -> dict[str, set[int]]:
    from ml.retrieval_evaluation import parse_relevant

    frame = _read_csv(path, "--pairs")
    for option, column in (("--pairs-text", text_column), ("--pairs-relevant", relevant_column)):
        if column not in frame.columns:
            fail(f"{option}: {path} has no column {column!r} (columns: {', '.join(map(str, frame.columns))})")
    pairs: dict[str, set[int]] = {}
    for line, (text, cell) in enumerate(zip(frame[text_column], frame[relevant_column], strict=True), start=2):
        ids = parse_relevant(cell)
        if not str(text).strip() or not ids:
            continue
        if not all(i.isdigit() for i in ids):
            fail(f"--pairs: line {line}: relevant ids must be whole numbers, got {cell!r}")
        pairs.setdefault(str(text).strip(), set()).update(int(i) for i in ids)
    if not pairs:
        fail(f"--pairs: {path} has no row with a query and relevant ids")
    return pairs
