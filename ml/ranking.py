"""Specialist ranking for a ticket, over plain data (no database), each candidate with its reasons.

Score = skill level in the ticket's group (the base) + who resolved the nearest past incidents
+ spare capacity - overload + working now + the client's field engineer for on-site work
+ same region / regional partner for a remote office.  Weights are module constants so the
documentation (docs/triage.md) and the tests name the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Working hours of each calendar key (kb.vocab.CALENDARS): weekdays (Mon=0) and local hours.
CALENDAR_HOURS = {
    "10x5": (frozenset(range(5)), time(9), time(19)),
    "8x5": (frozenset(range(5)), time(9), time(18)),
    "24x7": (frozenset(range(7)), time(0), None),
}

WEIGHT_SKILL_LEVEL = 1.0  # per level 1..5
WEIGHT_NEAREST_RESOLVER = 2.0  # times the resolver's share of the nearest incidents' similarity
WEIGHT_SPARE_CAPACITY = 1.0  # times the free share of capacity
PENALTY_OVER_CAPACITY = 3.0
WEIGHT_WORKING_NOW = 1.5
PENALTY_ABSENT = 5.0
WEIGHT_FIELD_ENGINEER = 4.0
WEIGHT_SAME_REGION = 1.5
#: On-site work in a region: an engineer there (ours or a partner's) can go, one elsewhere cannot (as the field engineer).
WEIGHT_ON_SITE_IN_REGION = 4.0
WEIGHT_PARTNER_IN_REGION = 0.5  # on top of the same region: the regional partner is the one on site


@dataclass(frozen=True)
class Candidate:
    """A specialist as the ranking sees it."""

    id: int
    name: str
    skills: Mapping[str, int]
    line: int = 1
    region: str | None = None
    partner: str | None = None
    #: The regions the candidate's partner company serves (besides ``region``, where the engineer sits).
    serves_regions: Sequence[str] = ()
    capacity: int = 10
    open_load: int = 0
    calendar: str = "10x5"
    timezone: str = "Europe/Moscow"
    absences: Sequence[tuple[datetime, datetime]] = ()


@dataclass(frozen=True)
class RankingContext:
    """What the ranking knows about the ticket."""

    group: str | None
    now: datetime
    client_field_engineer_id: int | None = None
    on_site: bool = False
    region: str | None = None
    #: specialist id -> summed similarity of the nearest past incidents that specialist resolved
    nearest_resolvers: Mapping[int, float] = field(default_factory=dict)


@dataclass
class RankedSpecialist:
    id: int
    name: str
    score: float
    reasons: list[str]

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "score": round(self.score, 3), "reasons": self.reasons}


def is_absent(absences: Iterable[tuple[datetime, datetime]], now: datetime) -> bool:
    """True when ``now`` falls inside one of the (start, end) absences."""
    return any(start <= now < end for start, end in absences)


def works_at(calendar: str, timezone: str, now: datetime) -> bool:
    """True when ``now`` (aware) is inside the working hours of ``calendar`` in ``timezone``.

    Unknown calendars count as 10x5; an unknown time zone as UTC.
    """
    days, start, end = CALENDAR_HOURS.get(calendar, CALENDAR_HOURS["10x5"])
    try:
        local = now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    if local.weekday() not in days:
        return False
    clock = local.time()
    return clock >= start and (end is None or clock < end)


def rank_specialists(candidates: Iterable[Candidate], context: RankingContext, *, limit: int = 5) -> list[RankedSpecialist]:
    """Candidates with a skill in the ticket's group (all, when no group), best first, with reasons.

    The client's field engineer for on-site work is a candidate even without the group skill, and so is an
    engineer (ours or a partner's) in or serving the ticket's region when the work is on site.
    """
    ranked = []
    for candidate in candidates:
        level = candidate.skills.get(context.group, 0) if context.group else max(candidate.skills.values(), default=0)
        is_field_engineer = context.on_site and candidate.id == context.client_field_engineer_id
        serves = bool(context.region) and context.region in (candidate.region, *candidate.serves_regions)
        if level <= 0 and not is_field_engineer and not (context.on_site and serves):
            continue
        score, reasons = 0.0, []
        if level > 0:
            score += WEIGHT_SKILL_LEVEL * level
            reasons.append(f"skill {context.group} level {level}" if context.group else f"top skill level {level}")
        resolved = context.nearest_resolvers.get(candidate.id, 0.0)
        if resolved > 0:
            total = sum(context.nearest_resolvers.values()) or 1.0
            score += WEIGHT_NEAREST_RESOLVER * resolved / total
            reasons.append(f"resolved similar past incidents ({resolved / total:.0%} of the nearest)")
        capacity = max(candidate.capacity, 1)
        if candidate.open_load >= capacity:
            score -= PENALTY_OVER_CAPACITY
            reasons.append(f"at capacity: {candidate.open_load}/{candidate.capacity} open tickets")
        else:
            score += WEIGHT_SPARE_CAPACITY * (1 - candidate.open_load / capacity)
            reasons.append(f"load {candidate.open_load}/{candidate.capacity} open tickets")
        if is_absent(candidate.absences, context.now):
            score -= PENALTY_ABSENT
            reasons.append("absent now")
        elif works_at(candidate.calendar, candidate.timezone, context.now):
            score += WEIGHT_WORKING_NOW
            reasons.append("working now")
        else:
            reasons.append("outside working hours")
        if is_field_engineer:
            score += WEIGHT_FIELD_ENGINEER
            reasons.append("the client's field engineer (on-site work)")
        if serves:
            score += WEIGHT_SAME_REGION
            reasons.append(f"in region {context.region}" if candidate.region == context.region
                           else f"serves region {context.region}")
            if context.on_site:
                score += WEIGHT_ON_SITE_IN_REGION
                reasons.append("can be on site")
            if candidate.partner:
                score += WEIGHT_PARTNER_IN_REGION
                reasons.append(f"regional partner {candidate.partner}")
        ranked.append(RankedSpecialist(candidate.id, candidate.name, score, reasons))
    ranked.sort(key=lambda item: (-item.score, item.id))
    return ranked[:limit]


class IncidentNeighbours:
    """Nearest resolved incidents by TF-IDF cosine over their text: a cheap stand-in for the hybrid
    search index when triage must answer in milliseconds.  Fitted on plain data (ids, texts, resolvers).
    """

    def __init__(self, max_features: int = 200_000):
        self.max_features = max_features

    def fit(self, ticket_ids: Sequence[int], texts: Sequence[str], resolvers: Sequence[int | None]):
        """Index ``texts`` of resolved tickets with the specialist who resolved each (None: unknown)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.ticket_ids_ = list(ticket_ids)
        self.resolvers_ = list(resolvers)
        self.vectorizer_ = None
        if self.ticket_ids_:
            self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                               max_features=self.max_features)
            try:
                self.matrix_ = self.vectorizer_.fit_transform(texts).T.tocsr()
            except ValueError:  # no usable terms at all
                self.vectorizer_ = None
        return self

    def resolvers(self, text: str, k: int = 10) -> dict[int, float]:
        """specialist id -> summed cosine similarity of the ``k`` nearest incidents they resolved."""
        import numpy as np

        if self.vectorizer_ is None:
            return {}
        similarity = (self.vectorizer_.transform([text]) @ self.matrix_).toarray()[0]
        if not similarity.any():
            return {}
        top = np.argsort(-similarity)[:k]
        out: dict[int, float] = {}
        for index in top:
            resolver = self.resolvers_[index]
            if similarity[index] > 0 and resolver is not None:
                out[resolver] = out.get(resolver, 0.0) + float(similarity[index])
        return out
