"""Helpers shared by CLI commands."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from kb.config import Settings, load_settings


def settings() -> Settings:
    """Settings from the environment, or exit 2 naming the bad variable."""
    try:
        return load_settings()
    except ValueError as exc:
        fail(str(exc))


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to stderr and exit (2 means bad input)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def echo_json(data: object) -> None:
    """Print one JSON object (UTF-8, not ASCII-escaped, so Russian text stays readable)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
