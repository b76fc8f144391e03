"""``precedent demo build``: the seeded demo knowledge base.

The generator is repository content (the ``data.demo`` package), not part of the installed distribution.
It is imported as ``data.demo`` from the checkout whose ``data/demo`` folder ``PRECEDENT_DEMO_DIR`` names
or, by default, from the checkout that this code runs from (an editable install, as ``make demo`` does):
that checkout's root is put on ``sys.path`` (once, at the end) for the import.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

import click
from sqlalchemy.exc import SQLAlchemyError

import kb
from kb import migrate
from kb.db import make_engine, make_session_factory
from service.cli.common import echo_json, fail, settings

PACKAGE = "data.demo"


def demo_folder(configured: str = "") -> Path:
    """The generator's folder: ``configured`` if given, else ``data/demo`` beside the ``kb`` package."""
    return Path(configured) if configured else Path(kb.__file__).resolve().parent.parent / "data" / "demo"


def load_generator(folder: Path) -> ModuleType:
    """Import the ``data.demo`` package that lives in ``folder`` (``<checkout>/data/demo``).

    ValueError (naming ``PRECEDENT_DEMO_DIR``) when ``folder`` is not such a package, or when ``data.demo``
    is already imported from another folder in this process.
    """
    folder = folder.resolve()
    if folder.parts[-2:] != ("data", "demo") or not (folder / "__init__.py").is_file():
        raise ValueError(f"PRECEDENT_DEMO_DIR: no demo generator at {folder} "
                         "(expected the data/demo package of a checkout, with __init__.py)")
    root = str(folder.parent.parent)
    if root not in sys.path:
        sys.path.append(root)
    module = importlib.import_module(PACKAGE)
    loaded_from = Path(module.__file__).resolve().parent
    if loaded_from != folder:
        raise ValueError(f"PRECEDENT_DEMO_DIR: {PACKAGE} is imported from {loaded_from}, not from {folder}")
    return module


@click.group()
def demo() -> None:
    """The demo knowledge base."""


@demo.command()
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed; the same seed gives the same data.")
@click.option("--tickets", default=6000, show_default=True, type=click.IntRange(min=1), help="Tickets to generate.")
@click.option("--database-url", default=None, help="SQLAlchemy URL (default: PRECEDENT_DATABASE_URL or var/ SQLite).")
@click.option("--replace", is_flag=True, help="Wipe the store's current content first (otherwise refuse if not empty).")
@click.option("--no-users", is_flag=True, help="Do not create the demo logins.")
@click.option("--no-contracts", is_flag=True, help="Do not create the demo contracts.")
def build(seed: int, tickets: int, database_url: str | None, replace: bool, no_users: bool,
          no_contracts: bool) -> None:
    """Migrate the database and write the demo: clients, nodes, specialists, tickets, articles, known problems."""
    config = settings()
    try:
        generator = load_generator(demo_folder(config.demo_dir))
    except ValueError as exc:
        fail(str(exc))
    url = database_url or config.resolved_database_url
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
    except (SQLAlchemyError, ValueError) as exc:
        fail(f"--database-url: cannot open {url!r}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}")
    started = time.perf_counter()
    try:
        with make_session_factory(engine)() as session:
            counts = generator.build_demo(session, seed=seed, tickets=tickets, replace=replace,
                                          users=not no_users, contracts=not no_contracts)
    except generator.DemoError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"the database refused the demo, nothing was written ({exc.__class__.__name__}: "
             f"{str(getattr(exc, 'orig', exc)).splitlines()[0]})")
    finally:
        engine.dispose()
    error = counts.pop("contracts_error", None) if isinstance(counts, dict) else None
    echo_json({"seed": seed, "seconds": round(time.perf_counter() - started, 1), "rows": counts})
    if error:
        click.echo(f"warning: the demo was built without contracts: {error}", err=True)
