"""All configuration of Precedent, read from environment variables with the ``PRECEDENT_`` prefix.

Every setting has a documented default so that a fresh clone runs with no environment at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

PREFIX = "PRECEDENT_"


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; build with :func:`load_settings`."""

    # --- storage ---
    #: Where runtime state lives (database file, index, models, caches).
    var_dir: Path = Path("var")
    #: SQLAlchemy URL; empty means the embedded SQLite file ``<var_dir>/precedent.sqlite3``.
    database_url: str = ""

    # --- service ---
    #: Flask secret key for session cookies (set a real one in production).
    secret_key: str = "dev-only-change-me"
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use, defaulting to the SQLite file under ``var_dir``."""
        return self.database_url or f"sqlite:///{self.var_dir / 'precedent.sqlite3'}"

    @property
    def index_dir(self) -> Path:
        return self.var_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.var_dir / "models"


def _coerce(raw: str, default: object) -> object:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from ``environ`` (default: ``os.environ``); keyword overrides win.

    A malformed value raises ``ValueError`` naming the variable.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in fields(Settings):
        name = PREFIX + field.name.upper()
        if name in environ:
            try:
                values[field.name] = _coerce(environ[name], field.default)
            except ValueError as exc:
                raise ValueError(f"{name}: cannot parse {environ[name]!r}: {exc}") from None
    return replace(Settings(**values), **overrides)
