"""Clients, their infrastructure and the specialists (read-only; loaded by the importers)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from kb import vocab
from kb.queries import directory as queries
from service.api import schemas as s
from service.api.tickets import choice_arg
from service.platform import db
from service.platform.auth import ensure_visible, visible_client_id
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.schema import operation
from service.platform.serializers import client_summary, iso

bp = Blueprint("directory", __name__, url_prefix="/api/v1")


def _client_or_404(client_id: int):
    ensure_visible(client_id, f"client {client_id}")
    client = queries.get_client(db.session(), client_id=client_id)
    if client is None:
        raise ApiError(404, f"client {client_id} not found", field="id")
    return client


@bp.get("/clients")
@operation(responses={200: s.ClientList})
def list_clients():
    """Clients (a client user sees only its own)."""
    return jsonify({"items": [client_summary(c) for c in queries.list_clients(db.session(),
                                                                              client_id=visible_client_id())]})


@bp.get("/clients/<int:client_id>")
@operation(responses={200: s.ClientOut})
def get_client(client_id: int):
    """One client with its support terms."""
    client = _client_or_404(client_id)
    data = client_summary(client)
    data.update({"manager": client.manager, "field_engineer_id": client.field_engineer_id})
    return jsonify(data)


@bp.get("/clients/<int:client_id>/nodes")
@operation(query=s.NodeQuery, responses={200: s.Items})
def list_nodes(client_id: int):
    """A client's infrastructure nodes with their depends-on links; ?kind=."""
    _client_or_404(client_id)
    nodes = queries.list_nodes(db.session(), client_id=client_id, kind=choice_arg("kind", vocab.NODE_KINDS))
    return jsonify({"items": [
        {"id": n.id, "external_id": n.external_id, "kind": n.kind, "name": n.name, "attributes": n.attributes,
         "criticality": n.criticality, "monitored": n.monitored, "region": n.region,
         "depends_on": sorted(d.id for d in n.depends_on)}
        for n in nodes
    ]})


@bp.get("/specialists")
@permit("directory.specialists")
@operation(responses={200: s.Items})
def list_specialists():
    """Active specialists with skills, capacity and absences."""
    return jsonify({"items": [
        {"id": s.id, "external_id": s.external_id, "name": s.name, "line": s.line, "region": s.region,
         "partner": s.partner, "calendar": s.calendar, "timezone": s.timezone, "capacity": s.capacity,
         "skills": {k.group: k.level for k in s.skills},
         "absences": [{"starts_at": iso(a.starts_at), "ends_at": iso(a.ends_at), "reason": a.reason}
                      for a in s.absences]}
        for s in queries.list_specialists(db.session())
    ]})
