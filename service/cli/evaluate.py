"""``precedent evaluate``: quality of retrieval and classification on any labelled data set."""

from __future__ import annotations

import click

from service.cli.search import evaluate_retrieve


@click.group()
def evaluate() -> None:
    """Evaluate the production pipelines on a labelled data set; prints one JSON object."""


def _read_labelled_csv(path: str, option: str, text_columns: list[str], label: str):
    """(texts, labels) of a CSV file, or exit 2 naming the problem."""
    from service.cli.common import fail, read_csv_frame

    frame = read_csv_frame(path, option)
    missing = [c for c in [*text_columns, label] if c not in frame.columns]
    if missing:
        fail(f"{option}: {path} has no column(s) {', '.join(missing)} "
             f"(columns: {', '.join(map(str, frame.columns))})")
    frame = frame[frame[label].notna() & (frame[label].str.strip() != "")]
    if frame.empty:
        fail(f"{option}: {path} has no rows with a {label!r} label")
    texts = frame[text_columns].fillna("").agg("\n".join, axis=1).tolist()
    return texts, frame[label].str.strip().tolist()


@evaluate.command("classify")
@click.option("--train", "train_path", required=True, help="Labelled CSV to fit on (gzip is fine).")
@click.option("--test", "test_path", required=True, help="Labelled CSV to measure on.")
@click.option("--text", "text_columns", required=True, help="Text column(s), comma-separated: COL[,COL...].")
@click.option("--label", "label", required=True, help="Label column.")
def classify(train_path: str, test_path: str, text_columns: str, label: str) -> None:
    """Fit the production routing pipeline on TRAIN and print its quality on TEST as JSON."""
    from ml.training import evaluate_text_classifier
    from service.cli.common import echo_json, fail, settings

    columns = [c.strip() for c in text_columns.split(",") if c.strip()]
    if not columns:
        fail("--text: give at least one column name")
    if not label.strip():
        fail("--label: give a column name")
    train_texts, train_labels = _read_labelled_csv(train_path, "--train", columns, label)
    test_texts, test_labels = _read_labelled_csv(test_path, "--test", columns, label)
    if len(set(train_labels)) < 2:
        fail(f"--train: column {label!r} has a single distinct label; need at least two classes")
    from ml.classify import STACK_BASES

    bases = settings().triage_stack_bases
    unknown = [b for b in bases if b not in STACK_BASES]
    if unknown or not bases:
        fail(f"PRECEDENT_TRIAGE_STACK_BASES: unknown base(s) {', '.join(unknown) or '(none given)'}; "
             f"choose from {', '.join(STACK_BASES)}")
    try:
        result = evaluate_text_classifier(train_texts, train_labels, test_texts, test_labels, bases=bases,
                                          pipeline=settings().triage_pipeline)
    except ValueError as exc:  # e.g. texts with no usable terms at all
        fail(f"--train: cannot fit the classifier: {exc}")
    result["stack_bases"] = list(bases)
    echo_json(result)


evaluate.add_command(evaluate_retrieve)


@evaluate.command("triage-log")
@click.option("--since", "since_text", default=None,
              help="Only predictions made at or after this instant (YYYY-MM-DD or ISO 8601; UTC when no offset).")
def triage_log(since_text: str | None) -> None:
    """Production accuracy of triage: what it predicted at ticket creation against what engineers kept."""
    from service.cli.common import echo_json, fail, settings, store_session
    from service.triage import quality

    since = None
    if since_text:
        try:
            since = quality.parse_since(since_text)
        except ValueError as exc:
            fail(f"--{exc}")
    with store_session() as session:
        echo_json(quality.triage_quality(session, since=since, target_precision=settings().triage_target_precision))


@evaluate.command("feedback")
@click.option("--k", type=int, default=5, show_default=True, help="How many suggestions per kind count as shown.")
def feedback(k: int) -> None:
    """Replay the tickets engineers judged suggestions for through the current search settings and index."""
    from service.cli.common import echo_json, fail, store_session
    from service.search import service as search
    from service.triage import quality

    if not 1 <= k <= search.MAX_K:
        fail(f"--k must be between 1 and {search.MAX_K}")
    with store_session() as session:
        try:
            echo_json(quality.suggestion_quality(session, k=k))
        except search.SearchUnavailable as exc:
            fail(str(exc), code=1)
