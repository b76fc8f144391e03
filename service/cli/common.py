"""Helpers shared by CLI commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from service.config import Settings, load_settings


def settings() -> Settings:
    """Settings from the environment, or exit 2 naming the bad variable."""
    try:
        return load_settings()
    except ValueError as exc:
        fail(str(exc))


def store_session(config: Settings | None = None):
    """A session on the configured knowledge store (use as a context manager)."""
    from kb.db import make_engine, make_session_factory

    return make_session_factory(make_engine((config or settings()).resolved_database_url))()


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to stderr and exit (2 means bad input)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def echo_json(data: object) -> None:
    """Print one JSON object (UTF-8, not ASCII-escaped, so Russian text stays readable)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def read_csv_frame(path: str | Path, option: str):
    """A CSV file as a DataFrame of strings, or exit 2 naming ``option``.

    Accepts what real exports look like: a comma, semicolon, tab or pipe delimiter (sniffed), UTF-8 with
    or without BOM or else cp1251, gzip or not."""
    import io

    import pandas as pd

    from kb.importers import ImportFileError, read_text, sniff_delimiter

    path = Path(path)
    if not path.exists():
        fail(f"{option}: file not found: {path}")
    try:
        text = read_text(path, encoding=None)
    except ImportFileError as exc:
        fail(f"{option}: {exc}")
    if "\x00" in text:
        fail(f"{option}: cannot read {path}: binary data (NUL bytes), not a CSV text file")
    if not text.strip():
        fail(f"{option}: file {path} is empty")
    try:
        return pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text), dtype=str, keep_default_na=False,
                           na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        fail(f"{option}: cannot read {path} as CSV: {exc}")
