"""References of imported rows (client, field engineer, assignees, nodes) resolved against the store and the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.importers.fields import FIELDS
from kb.importers.report import RowError
from kb.importers.rows import ParsedRow
from kb.models import Client, Node, Specialist


class Directory:
    """In-memory lookups of clients, specialists and nodes by external id and name (loaded once)."""

    def __init__(self, session: Session):
        self.session = session
        self.clients = list(session.scalars(select(Client)))
        self.specialists = list(session.scalars(select(Specialist)))
        self._nodes: list[Node] | None = None

    @property
    def nodes(self) -> list[Node]:
        """Every stored node, loaded on first use (only node and ticket imports need them)."""
        if self._nodes is None:
            self._nodes = list(self.session.scalars(select(Node)))
        return self._nodes

    @staticmethod
    def _find(items: list, key: str, what: str):
        by_id = [i for i in items if i.external_id == key]
        if by_id:
            return by_id[0]
        by_name = [i for i in items if i.name == key] or [i for i in items if i.name.casefold() == key.casefold()]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise ValueError(f"{what} name {key!r} is ambiguous ({len(by_name)} match); use its external id")
        raise ValueError(f"no {what} with external id or name {key!r}")

    def client(self, key: str) -> Client:
        """The client with this external id, else this (unique) name; raise ValueError."""
        return self._find(self.clients, key, "client")

    def specialist(self, key: str) -> Specialist:
        """The specialist with this external id, else this (unique) name; raise ValueError."""
        return self._find(self.specialists, key, "specialist")

    def node(self, key: str, client_id: int | None) -> Node:
        """The node with this external id, else this (unique) name among the client's nodes; raise ValueError."""
        by_id = [n for n in self.nodes if n.external_id == key]
        if by_id:
            return by_id[0]
        candidates = [n for n in self.nodes if client_id is None or n.client_id == client_id]
        by_name = [n for n in candidates if n.name == key] or [
            n for n in candidates if n.name.casefold() == key.casefold()]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise ValueError(f"node name {key!r} is ambiguous; use its external id")
        scope = " of this client" if client_id is not None else ""
        raise ValueError(f"no node{scope} with external id or name {key!r}")


def resolve_references(entity: str, rows: list[ParsedRow], directory: Directory, path: Path) -> list[RowError]:
    """Replace reference keys by ids in place; return errors and drop the bad rows from ``rows``.

    Node references become ("db", node id) or, for nodes defined in the same file, ("file", external id).
    """
    errors: list[RowError] = []
    # Clients and specialists first, so that every row knows its client before nodes are looked up by name.
    _resolve_people(entity, rows, directory, path, errors)
    _resolve_nodes(entity, rows, directory, path, errors)
    rows[:] = [r for r in rows if r.ok]
    return errors


def _resolve_people(entity: str, rows: list[ParsedRow], directory: Directory, path: Path,
                    errors: list[RowError]) -> None:
    """Client and specialist references to ids; a row with a reference that fails is marked not ok."""
    for row in rows:
        before = len(errors)
        for spec in FIELDS[entity]:
            if spec.kind != "ref" or spec.target == "node" or spec.name not in row.values:
                continue
            keys = row.values[spec.name]
            try:
                if spec.target == "client":
                    row.values[spec.name] = directory.client(keys[0]).id
                else:
                    ids = [directory.specialist(k).id for k in keys]
                    row.values[spec.name] = ids if spec.many else ids[0]
            except ValueError as exc:
                errors.append(RowError(str(path), row.number, row.origin[spec.name], str(exc)))
                row.values.pop(spec.name)
        row.ok = row.ok and len(errors) == before


def _resolve_nodes(entity: str, rows: list[ParsedRow], directory: Directory, path: Path,
                   errors: list[RowError]) -> None:
    """Node references, by external id anywhere or by name within the row's client (file rows first)."""
    good = [r for r in rows if r.ok]
    by_id = {r.values["external_id"]: r for r in good} if entity == "nodes" else {}
    by_name = {(r.values["client"], r.values["name"]): r for r in good} if entity == "nodes" else {}
    for row in rows:
        before = len(errors)
        for spec in FIELDS[entity]:
            if spec.target != "node" or spec.name not in row.values:
                continue
            client_id = row.values.get("client")
            refs: list[tuple[str, Any]] = []
            for key in row.values[spec.name]:
                same_file = by_id.get(key) or by_name.get((client_id, key))
                if same_file is row:
                    errors.append(RowError(str(path), row.number, row.origin[spec.name],
                                           "a node cannot depend on itself"))
                elif same_file is not None:
                    refs.append(("file", same_file.values["external_id"]))
                else:
                    try:
                        refs.append(("db", directory.node(key, client_id).id))
                    except ValueError as exc:
                        errors.append(RowError(str(path), row.number, row.origin[spec.name], str(exc)))
            row.values[spec.name] = refs
        row.ok = row.ok and len(errors) == before


def check_node_names(rows: list[ParsedRow], directory: Directory, path: Path) -> list[RowError]:
    """Node names are unique per client: catch clashes before the database does (drops those rows)."""
    errors: list[RowError] = []
    taken = {(n.client_id, n.name): n.external_id for n in directory.nodes}
    claimed: dict[tuple[int, str], int] = {}
    good = []
    for row in rows:
        key = (row.values["client"], row.values["name"])
        owner = taken.get(key)
        if key in claimed:
            errors.append(RowError(str(path), row.number, row.origin["name"],
                                   f"node name {key[1]!r} appears twice for this client (first at row {claimed[key]})"))
        elif owner is not None and owner != row.values["external_id"]:
            errors.append(RowError(str(path), row.number, row.origin["name"],
                                   f"this client already has a node named {key[1]!r} with external id {owner!r}"))
        else:
            claimed[key] = row.number
            good.append(row)
    rows[:] = good
    return errors


def reject_dangling_dependencies(rows: list[ParsedRow], path: Path) -> list[RowError]:
    """Drop node rows that depend on a row of the file that was rejected; return their errors."""
    errors: list[RowError] = []
    # A dropped row may itself be a dependency of another: repeat until none is left dangling.
    while True:
        valid = {r.values["external_id"] for r in rows}
        broken = [r for r in rows if any(src == "file" and key not in valid
                                         for src, key in r.values.get("depends_on", []))]
        if not broken:
            return errors
        for r in broken:
            errors.append(RowError(str(path), r.number, r.origin["depends_on"],
                                   "depends on a node whose row was rejected"))
        rows[:] = [r for r in rows if r not in broken]
