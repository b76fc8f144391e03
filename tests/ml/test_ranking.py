"""Specialist ranking: each factor moves a candidate the right way and says so in its reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ml.ranking import Candidate, RankingContext, rank_specialists, works_at

# Tuesday 2026-11-24 12:00 Moscow time = 09:00 UTC: inside 10x5 hours.
WORKING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
SATURDAY = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def person(id_, level=3, **kw):
    return Candidate(id=id_, name=f"s{id_}", skills={"network": level}, **kw)


def ids(ranked):
    return [r.id for r in ranked]


@pytest.mark.parametrize(
    ("calendar", "instant", "expected"),
    [("10x5", WORKING, True), ("10x5", NIGHT, False), ("10x5", SATURDAY, False),
     ("24x7", NIGHT, True), ("24x7", SATURDAY, True), ("8x5", datetime(2026, 11, 24, 15, 30, tzinfo=UTC), False)],
)
def test_works_at(calendar, instant, expected):
    assert works_at(calendar, "Europe/Moscow", instant) is expected


def test_only_the_groups_skill_holders_are_candidates():
    other = Candidate(id=9, name="printer person", skills={"printers": 5})
    ranked = rank_specialists([person(1), other], RankingContext(group="network", now=WORKING))
    assert ids(ranked) == [1]
    assert "skill network level 3" in ranked[0].reasons


def test_higher_skill_ranks_first():
    ranked = rank_specialists([person(1, level=2), person(2, level=5)], RankingContext(group="network", now=WORKING))
    assert ids(ranked) == [2, 1]


def test_nearest_incident_resolver_wins_a_tie():
    context = RankingContext(group="network", now=WORKING, nearest_resolvers={1: 0.9})
    ranked = rank_specialists([person(2), person(1)], context)
    assert ids(ranked) == [1, 2]
    assert any("resolved similar past incidents" in r for r in ranked[0].reasons)


def test_overloaded_and_absent_specialists_sink():
    absent = person(3, level=5, absences=[(WORKING - timedelta(days=1), WORKING + timedelta(days=1))])
    full = person(2, level=5, capacity=4, open_load=4)
    ranked = rank_specialists([absent, full, person(1, level=3)], RankingContext(group="network", now=WORKING))
    assert ids(ranked)[0] == 1
    reasons = {r.id: r.reasons for r in ranked}
    assert "absent now" in reasons[3]
    assert "at capacity: 4/4 open tickets" in reasons[2]


def test_working_now_beats_off_hours():
    night_shift = person(2, calendar="24x7")
    ranked = rank_specialists([person(1), night_shift], RankingContext(group="network", now=NIGHT))
    assert ids(ranked) == [2, 1]
    assert "outside working hours" in ranked[1].reasons


def test_field_engineer_for_on_site_work_even_without_the_skill():
    field = Candidate(id=7, name="field", skills={"workstations": 2})
    context = RankingContext(group="network", now=WORKING, client_field_engineer_id=7, on_site=True)
    ranked = rank_specialists([person(1), field], context)
    assert ids(ranked)[0] == 7
    assert "the client's field engineer (on-site work)" in ranked[0].reasons
    remote = RankingContext(group="network", now=WORKING, client_field_engineer_id=7, on_site=False)
    assert 7 not in ids(rank_specialists([person(1), field], remote))


def test_regional_partner_for_a_remote_office():
    partner = person(2, region="Казань", partner="ТатСервис")
    context = RankingContext(group="network", now=WORKING, region="Казань")
    ranked = rank_specialists([person(1, region="Москва"), partner], context)
    assert ids(ranked) == [2, 1]
    assert "in region Казань" in ranked[0].reasons and "regional partner ТатСервис" in ranked[0].reasons


def test_limit_and_stable_order():
    ranked = rank_specialists([person(i) for i in range(10, 0, -1)], RankingContext(group="network", now=WORKING), limit=3)
    assert ids(ranked) == [1, 2, 3]


def test_incident_neighbours_credit_the_resolvers_of_similar_incidents():
    from ml.ranking import IncidentNeighbours

    neighbours = IncidentNeighbours().fit(
        [1, 2, 3, 4],
        ["VPN не подключается из дома", "принтер не печатает", "VPN падает каждые 5 минут", "почта не уходит"],
        [10, 20, 30, None])
    found = neighbours.resolvers("не подключается VPN", k=2)
    assert set(found) == {10, 30} and found[10] > found[30] > 0
    assert neighbours.resolvers("совершенно другое", k=2) == {}
    assert IncidentNeighbours().fit([], [], []).resolvers("VPN") == {}


def test_an_engineer_serving_the_region_is_proposed_for_on_site_work_even_without_the_skill():
    # the partner's engineer sits in Новосибирск; its company serves Томск too
    partner = Candidate(id=5, name="partner", skills={}, region="Новосибирск", partner="Сибирь-Сервис",
                        serves_regions=("Новосибирск", "Томск"))
    context = RankingContext(group="network", now=WORKING, region="Томск", on_site=True)
    ranked = rank_specialists([person(1, region="Москва"), partner], context)
    assert ids(ranked) == [5, 1]
    assert {"serves region Томск", "can be on site", "regional partner Сибирь-Сервис"} <= set(ranked[0].reasons)
    remote = RankingContext(group="network", now=WORKING, region="Томск", on_site=False)
    assert ids(rank_specialists([person(1, region="Москва"), partner], remote)) == [1]
