"""Quality in production, from what engineers did with Precedent's output.

- Triage: every ticket created through the service stores what triage predicted (TriagePrediction). Once an
  engineer has handled the ticket, its group and priority are the truth; comparing the two gives the
  production accuracy, split by what was auto-routed and what went to the human triage queue.
- Suggestions: engineers mark suggested incidents, articles and known problems useful or not. Replaying
  the judged tickets through the current search (index, weights, boosts) shows how high the useful ones
  rank now and how many rejected ones still make the top k, so a change of search settings can be
  judged against the engineers' verdicts before it is rolled out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import SuggestionFeedback, Ticket, TriagePrediction


def parse_since(text: str) -> datetime:
    """A date or ISO 8601 instant (UTC when it has no offset); ValueError saying what is expected."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"since: expected a date (YYYY-MM-DD) or an ISO 8601 instant, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def triage_quality(session: Session, *, since: datetime | None = None,
                   target_precision: float | None = None) -> dict[str, Any]:
    """Accuracy of stored triage predictions against the group and priority the tickets have now.

    Only tickets an engineer has moved out of ``new`` count; a ticket's first prediction (the one made at
    creation) is the one judged, and ``since`` selects tickets by that first prediction.  ``auto_route``:
    the production precision of what was routed without a human (confidence at or above the threshold),
    its coverage, and whether it meets ``target_precision`` (the setting the thresholds were chosen for)."""
    query = (select(TriagePrediction, Ticket.group, Ticket.priority)
             .join(Ticket, Ticket.id == TriagePrediction.ticket_id)
             .where(Ticket.status != "new")
             .order_by(TriagePrediction.ticket_id, TriagePrediction.at, TriagePrediction.id))
    first: dict[int, tuple[TriagePrediction, str | None, str | None]] = {}
    for prediction, group, priority in session.execute(query):
        first.setdefault(prediction.ticket_id, (prediction, group, priority))
    if since is not None:
        first = {ticket: row for ticket, row in first.items() if row[0].at >= since}

    def tally() -> dict[str, int]:
        return {"n": 0, "correct": 0}

    fields: dict[str, dict[str, dict[str, int]]] = {
        name: {"all": tally(), "auto_routed": tally(), "human_queue": tally()} for name in ("group", "priority")}
    by_version: dict[str, dict[str, int]] = defaultdict(tally)
    for prediction, group, priority in first.values():
        route = "human_queue" if prediction.needs_human else "auto_routed"
        for name, predicted, actual in (("group", prediction.group, group),
                                        ("priority", prediction.priority, priority)):
            if predicted is None or actual is None:
                continue
            for bucket in ("all", route):
                fields[name][bucket]["n"] += 1
                fields[name][bucket]["correct"] += predicted == actual
            if name == "group":
                version = str((prediction.model_versions or {}).get("routing") or "rules only")
                by_version[version]["n"] += 1
                by_version[version]["correct"] += predicted == actual
    report: dict[str, Any] = {
        "tickets": len(first),
        "needs_human_share": _share(sum(p.needs_human for p, _, _ in first.values()), len(first)),
    }
    for name, buckets in fields.items():
        report[name] = {bucket: {"n": t["n"], "accuracy": _share(t["correct"], t["n"])}
                        for bucket, t in buckets.items()}
    report["group_by_routing_model"] = {version: {"n": t["n"], "accuracy": _share(t["correct"], t["n"])}
                                        for version, t in sorted(by_version.items())}
    report["auto_route"] = _auto_route(report, target_precision)
    return report


def _auto_route(report: dict[str, Any], target_precision: float | None) -> dict[str, Any]:
    """Precision in production at the auto-route threshold, per field, against the target."""
    share = report["needs_human_share"]
    out: dict[str, Any] = {"target_precision": target_precision,
                           "coverage": None if share is None else round(1.0 - share, 4)}
    for name in ("group", "priority"):
        precision = report[name]["auto_routed"]["accuracy"]
        out[f"{name}_precision"] = precision
        out[f"{name}_meets_target"] = (None if precision is None or target_precision is None
                                       else precision >= target_precision)
    return out


def suggestion_quality(session: Session, *, k: int = 5) -> dict[str, Any]:
    """Replay the tickets with suggestion feedback through the current search; how the verdicts rank now.

    Per kind: judged and useful suggestions, ``recall_useful@k`` (share of useful ones in the top k
    today), ``mrr_useful`` (mean reciprocal rank of the first useful one, per ticket that has one) and
    ``rejected_in_top_k`` (suggestions judged not useful that still show). An engineer's latest verdict
    on a (ticket, suggestion) pair counts."""
    from service.search import service as search

    verdicts: dict[int, dict[tuple[str, int], bool]] = defaultdict(dict)
    rows = session.scalars(select(SuggestionFeedback).order_by(SuggestionFeedback.at, SuggestionFeedback.id))
    for row in rows:
        verdicts[row.ticket_id][(row.kind, row.ref)] = row.useful
    kinds = {kind: {"judged": 0, "useful": 0, "useful_in_top_k": 0, "rejected_in_top_k": 0,
                    "reciprocal_ranks": []} for kind in search.SECTIONS}
    replayed = 0
    for ticket_id, judged in sorted(verdicts.items()):
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            continue
        replayed += 1
        # Its own verdicts stay out of the ranking: the replay must not be told the answers it is scored on.
        result = search.suggest_for_ticket(session, ticket=ticket, k=k, own_verdicts=False)
        for kind, key in search.SECTIONS.items():
            ranked = [item["id"] for item in result.get(key, [])][:k]
            useful = {ref for (kind_, ref), ok in judged.items() if kind_ == kind and ok}
            rejected = {ref for (kind_, ref), ok in judged.items() if kind_ == kind and not ok}
            stats = kinds[kind]
            stats["judged"] += len(useful) + len(rejected)
            stats["useful"] += len(useful)
            stats["useful_in_top_k"] += len(useful & set(ranked))
            stats["rejected_in_top_k"] += len(rejected & set(ranked))
            if useful:
                rank = next((i for i, ref in enumerate(ranked, 1) if ref in useful), None)
                stats["reciprocal_ranks"].append(1 / rank if rank else 0.0)
    report: dict[str, Any] = {"k": k, "tickets": replayed,
                              "judgements": sum(s["judged"] for s in kinds.values()), "kinds": {}}
    for kind, stats in kinds.items():
        ranks = stats.pop("reciprocal_ranks")
        report["kinds"][kind] = {**stats, "recall_useful@k": _share(stats["useful_in_top_k"], stats["useful"]),
                                 "mrr_useful": round(sum(ranks) / len(ranks), 4) if ranks else None}
    return report
