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


def sample_alert(node_name: str, *, fingerprint: str, status: str = "firing") -> dict:
    """An Alertmanager webhook notification (format version 4) of a filling disk on ``node_name``."""
    from datetime import UTC, datetime

    started = datetime.now(UTC).replace(microsecond=0)
    alert = {
        "status": status,
        "labels": {"alertname": "NodeFilesystemAlmostOutOfSpace", "severity": "critical",
                   "instance": f"{node_name}:9100", "mountpoint": "/var", "job": "node"},
        "annotations": {"summary": "Диск /var заполнен на 93 %",
                        "description": f"На {node_name} раздел /var заполнен на 93 % и растёт на 2 % в час: "
                                       "через 3 часа закончится место, база данных остановится."},
        "startsAt": started.isoformat().replace("+00:00", "Z"),
        "endsAt": started.isoformat().replace("+00:00", "Z") if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph?g0.expr=node_filesystem_avail_bytes",
        "fingerprint": fingerprint,
    }
    return {"version": "4", "groupKey": "{}:{alertname=\"NodeFilesystemAlmostOutOfSpace\"}", "status": status,
            "receiver": "precedent", "groupLabels": {"alertname": alert["labels"]["alertname"]},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.local", "alerts": [alert]}


def _monitored_node(config) -> str | None:
    """The name of the most critical monitored node of the configured store (the demo's), if any."""
    from sqlalchemy import case, select

    from kb.models import Node

    rank = case({"critical": 0, "high": 1, "medium": 2}, value=Node.criticality, else_=3)
    engine = make_engine(config.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(Node.name).where(Node.monitored.is_(True)).order_by(rank, Node.id).limit(1))
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


@demo.command("alert")
@click.option("--url", default=None, help="Base URL of the running service (default http://HOST:PORT of the settings).")
@click.option("--node", "node_name", default=None, help="Node name for the alert's instance label "
              "(default: the most critical monitored node of the configured store).")
@click.option("--token", default=None, help="Webhook secret (default PRECEDENT_ALERTMANAGER_TOKEN).")
@click.option("--fingerprint", default=None, help="Alert fingerprint (default: a new one, so a new incident).")
@click.option("--resolved", is_flag=True, help="Send the alert as resolved (pass the --fingerprint of the firing one).")
def alert(url: str | None, node_name: str | None, token: str | None, fingerprint: str | None, resolved: bool) -> None:
    """Post a sample Alertmanager notification (a disk filling up) to the running demo, then print where its
    incident is: its page shows the triage (priority, group, specialists) and the suggested fixes."""
    import json
    import urllib.error
    import urllib.request
    import uuid

    config = settings()
    secret = token if token is not None else config.alertmanager_token
    if not secret:
        fail("--token: the webhook needs its secret: pass --token or set PRECEDENT_ALERTMANAGER_TOKEN "
             "(the same value the service runs with)")
    node = node_name or _monitored_node(config)
    if not node:
        fail("--node: no monitored node in the configured store; build the demo first or pass --node")
    base = (url or f"http://{config.host}:{config.port}").rstrip("/")
    payload = sample_alert(node, fingerprint=fingerprint or uuid.uuid4().hex[:16],
                           status="resolved" if resolved else "firing")
    request = urllib.request.Request(f"{base}/api/v1/webhooks/alertmanager", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {secret}"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            report = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        fail(f"--url: the service answered {exc.code}: {exc.read().decode('utf-8', 'replace')[:300]}", code=1)
    except (urllib.error.URLError, OSError) as exc:
        fail(f"--url: cannot reach {base} ({exc}); is the demo running (make demo)?", code=1)
    for result in report.get("results", []):
        if result.get("ticket_id"):
            result["page"] = f"{base}/tickets/{result['ticket_id']}"
    echo_json({"node": node, "fingerprint": payload["alerts"][0]["fingerprint"], **report})
