"""``precedent demo build``: the seeded demo knowledge base.

The generator is repository content (``data/demo``), not part of the installed distribution, so it is
loaded from the folder named by ``PRECEDENT_DEMO_DIR`` or, by default, from ``data/demo`` of the checkout
that this code runs from (an editable install, as ``make demo`` does).
"""

from __future__ import annotations

import importlib.util
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

_MODULE_NAME = "precedent_demo_generator"


def demo_folder(configured: str = "") -> Path:
    """The generator's folder: ``configured`` if given, else ``data/demo`` beside the ``kb`` package."""
    return Path(configured) if configured else Path(kb.__file__).resolve().parent.parent / "data" / "demo"


def load_generator(folder: Path) -> ModuleType:
    """Import the generator package from ``folder`` (once per process and folder); ValueError if it is not there."""
    loaded = sys.modules.get(_MODULE_NAME)
    if loaded is not None and list(getattr(loaded, "__path__", [])) == [str(folder)]:
        return loaded
    entry = folder / "__init__.py"
    if not entry.is_file():
        raise ValueError(f"PRECEDENT_DEMO_DIR: no demo generator at {folder} (expected {entry.name} there)")
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, entry, submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
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
