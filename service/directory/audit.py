"""The infrastructure audit of a client (seed 001: "справка-аудит по состоянию ИТ-инфраструктуры … анализ типовых
ИТ-рисков"; "что мы будем делать, когда этот элемент инфраструктуры выйдет из строя?").

Built from the client's nodes (dependencies, criticality, monitoring, backup node, runbook article) and its
incident history: single points of failure, critical nodes without monitoring or a backup node, nodes with
recurring incidents and the known problems linked to them, the mean time to restore per node kind, and for
every critical node the plan for its failure -- the runbook, or a gap shown as a gap.
:func:`audit_report` is pure over plain data; :func:`client_audit` loads that data from the store.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean, median

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import (
    Article,
    Client,
    KnownProblem,
    Node,
    Ticket,
    known_problem_tickets,
    node_dependencies,
    ticket_nodes,
)

CRITICAL = "critical"
CRITICALITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class AuditRules:
    """The audit's thresholds (what counts as "many", "recurring", "recent")."""

    #: A node on which at least this many other nodes depend (directly or through others) is a single point
    #: of failure unless it has a backup node.
    spof_dependents: int = 3
    #: At least this many incidents on one node within the window are "recurring".
    recurring_incidents: int = 3
    window_days: int = 365


@dataclass(frozen=True)
class NodeFacts:
    id: int
    name: str
    kind: str
    criticality: str
    monitored: bool
    region: str | None = None
    depends_on: tuple[int, ...] = ()
    backup_node_id: int | None = None
    runbook: tuple[int, str] | None = None


@dataclass(frozen=True)
class IncidentFacts:
    ticket_id: int
    subject: str
    node_ids: tuple[int, ...]
    created_at: datetime
    resolved_at: datetime | None = None
    known_problems: tuple[tuple[int, str], ...] = ()


def dependents(nodes: list[NodeFacts]) -> dict[int, set[int]]:
    """For each node, every node that stops working when it fails (depends on it directly or transitively)."""
    users: dict[int, set[int]] = defaultdict(set)
    for node in nodes:
        for target in node.depends_on:
            users[target].add(node.id)
    result: dict[int, set[int]] = {}
    for node in nodes:
        seen: set[int] = set()
        stack = list(users.get(node.id, ()))
        while stack:
            current = stack.pop()
            if current in seen or current == node.id:
                continue
            seen.add(current)
            stack.extend(users.get(current, ()))
        result[node.id] = seen
    return result


def _ref(node: NodeFacts) -> dict:
    return {"id": node.id, "name": node.name, "kind": node.kind, "criticality": node.criticality,
            "region": node.region}


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def _single_points(nodes: list[NodeFacts], by_id: dict[int, NodeFacts], fallout: dict[int, set[int]],
                   rules: AuditRules) -> list[dict]:
    found = []
    for node in nodes:
        hit = fallout[node.id]
        if len(hit) >= rules.spof_dependents and not (node.backup_node_id and node.backup_node_id in by_id):
            names = sorted(by_id[i].name for i in hit)
            found.append({**_ref(node), "dependents": len(hit), "dependent_names": names[:10],
                          "monitored": node.monitored})
    return sorted(found, key=lambda f: (-f["dependents"], CRITICALITY_RANK.get(f["criticality"], 9), f["name"]))


def _critical_gaps(critical: list[NodeFacts], by_id: dict[int, NodeFacts]) -> list[dict]:
    gaps = []
    for node in critical:
        backup = by_id.get(node.backup_node_id) if node.backup_node_id else None
        if not node.monitored or backup is None:
            gaps.append({**_ref(node), "unmonitored": not node.monitored, "no_backup": backup is None})
    return sorted(gaps, key=lambda g: (-(g["unmonitored"] + g["no_backup"]), g["name"]))


def _recurring(nodes: list[NodeFacts], incidents: list[IncidentFacts], rules: AuditRules) -> list[dict]:
    per_node: dict[int, list[IncidentFacts]] = defaultdict(list)
    for incident in incidents:
        for node_id in incident.node_ids:
            per_node[node_id].append(incident)
    found = []
    for node in nodes:
        history = sorted(per_node.get(node.id, ()), key=lambda i: i.created_at)
        if len(history) < rules.recurring_incidents:
            continue
        problems = sorted({p for incident in history for p in incident.known_problems}, key=lambda p: p[1])
        found.append({**_ref(node), "incidents": len(history), "last_incident_at": history[-1].created_at.isoformat(),
                      "recent_subjects": [i.subject for i in history[-3:]][::-1],
                      "known_problems": [{"id": pid, "title": title} for pid, title in problems]})
    return sorted(found, key=lambda f: (-f["incidents"], f["name"]))


def _restore_times(by_id: dict[int, NodeFacts], incidents: list[IncidentFacts]) -> list[dict]:
    per_kind: dict[str, list[float]] = defaultdict(list)
    for incident in incidents:
        if incident.resolved_at is None or incident.resolved_at < incident.created_at:
            continue
        # An incident on several nodes of one kind counts once for that kind.
        for kind in sorted({by_id[n].kind for n in incident.node_ids if n in by_id}):
            per_kind[kind].append(_hours(incident.resolved_at - incident.created_at))
    rows = [{"kind": kind, "incidents": len(values), "mean_hours": round(mean(values), 1),
             "median_hours": round(median(values), 1), "max_hours": max(values)}
            for kind, values in per_kind.items()]
    return sorted(rows, key=lambda r: (-r["mean_hours"], r["kind"]))


def _failure_plans(critical: list[NodeFacts], by_id: dict[int, NodeFacts], fallout: dict[int, set[int]]) -> list[dict]:
    plans = []
    for node in critical:
        backup = by_id.get(node.backup_node_id) if node.backup_node_id else None
        plans.append({**_ref(node), "dependents": len(fallout[node.id]),
                      "backup": _ref(backup) if backup else None,
                      "runbook": {"id": node.runbook[0], "title": node.runbook[1]} if node.runbook else None,
                      "gap": node.runbook is None})
    return sorted(plans, key=lambda p: (not p["gap"], -p["dependents"], p["name"]))


def audit_report(nodes: list[NodeFacts], incidents: list[IncidentFacts], *, now: datetime,
                 rules: AuditRules = AuditRules()) -> dict:
    """The audit of one client's infrastructure from its nodes and the incidents of the rules' window."""
    by_id = {node.id: node for node in nodes}
    since = now - timedelta(days=rules.window_days)
    recent = [i for i in incidents if since <= i.created_at <= now]
    fallout = dependents(nodes)
    critical = [node for node in nodes if node.criticality == CRITICAL]
    report = {
        "generated_at": now.isoformat(),
        "window": {"days": rules.window_days, "from": since.isoformat(), "to": now.isoformat()},
        "rules": {"spof_dependents": rules.spof_dependents, "recurring_incidents": rules.recurring_incidents},
        "single_points_of_failure": _single_points(nodes, by_id, fallout, rules),
        "critical_gaps": _critical_gaps(critical, by_id),
        "recurring_incidents": _recurring(nodes, recent, rules),
        "restore_times": _restore_times(by_id, recent),
        "failure_plans": _failure_plans(critical, by_id, fallout),
    }
    report["summary"] = {
        "nodes": len(nodes), "critical_nodes": len(critical), "monitored_nodes": sum(n.monitored for n in nodes),
        "incidents": len(recent), "single_points_of_failure": len(report["single_points_of_failure"]),
        "critical_unmonitored": sum(g["unmonitored"] for g in report["critical_gaps"]),
        "critical_without_backup": sum(g["no_backup"] for g in report["critical_gaps"]),
        "recurring_nodes": len(report["recurring_incidents"]),
        "runbook_gaps": sum(p["gap"] for p in report["failure_plans"]),
    }
    return report


# --- loading from the store ---------------------------------------------------------------------------------


def node_facts(session: Session, client_id: int) -> list[NodeFacts]:
    """The client's nodes with their dependencies, backup node and runbook article."""
    nodes = session.scalars(select(Node).where(Node.client_id == client_id).order_by(Node.id)).all()
    ids = [node.id for node in nodes]
    edges: dict[int, list[int]] = defaultdict(list)
    if ids:
        for node_id, target in session.execute(select(node_dependencies.c.node_id, node_dependencies.c.depends_on_id)
                                               .where(node_dependencies.c.node_id.in_(ids))):
            edges[node_id].append(target)
    article_ids = {node.runbook_article_id for node in nodes if node.runbook_article_id}
    titles = dict(session.execute(select(Article.id, Article.title).where(Article.id.in_(article_ids)))
                  .all()) if article_ids else {}
    return [NodeFacts(id=n.id, name=n.name, kind=n.kind, criticality=n.criticality, monitored=bool(n.monitored),
                      region=n.region, depends_on=tuple(sorted(edges.get(n.id, ()))), backup_node_id=n.backup_node_id,
                      runbook=(n.runbook_article_id, titles[n.runbook_article_id])
                      if n.runbook_article_id in titles else None)
            for n in nodes]


def incident_facts(session: Session, client_id: int, *, since: datetime) -> list[IncidentFacts]:
    """The client's incidents created since ``since``, with their nodes and linked known problems."""
    tickets = session.scalars(select(Ticket).where(Ticket.client_id == client_id, Ticket.type == "incident",
                                                   Ticket.created_at >= since).order_by(Ticket.created_at)).all()
    ids = [t.id for t in tickets]
    nodes: dict[int, list[int]] = defaultdict(list)
    problems: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for start in range(0, len(ids), 500):  # bounded IN lists on every backend
        chunk = ids[start:start + 500]
        for ticket_id, node_id in session.execute(select(ticket_nodes.c.ticket_id, ticket_nodes.c.node_id)
                                                  .where(ticket_nodes.c.ticket_id.in_(chunk))):
            nodes[ticket_id].append(node_id)
        for ticket_id, problem_id, title in session.execute(
                select(known_problem_tickets.c.ticket_id, KnownProblem.id, KnownProblem.title)
                .join(KnownProblem, KnownProblem.id == known_problem_tickets.c.known_problem_id)
                .where(known_problem_tickets.c.ticket_id.in_(chunk))):
            problems[ticket_id].append((problem_id, title))
    return [IncidentFacts(ticket_id=t.id, subject=t.subject, node_ids=tuple(sorted(nodes.get(t.id, ()))),
                          created_at=t.created_at, resolved_at=t.resolved_at,
                          known_problems=tuple(problems.get(t.id, ())))
            for t in tickets]


class AuditNotFound(LookupError):
    """No such client."""


def client_audit(session: Session, *, client_id: int, now: datetime, rules: AuditRules = AuditRules()) -> dict:
    """The audit report of ``client_id`` as of ``now`` (AuditNotFound when there is no such client). Reads only."""
    client = session.get(Client, client_id)
    if client is None:
        raise AuditNotFound(f"client {client_id} not found")
    report = audit_report(node_facts(session, client_id),
                          incident_facts(session, client_id, since=now - timedelta(days=rules.window_days)),
                          now=now, rules=rules)
    return {"client": {"id": client.id, "name": client.name}, **report}
