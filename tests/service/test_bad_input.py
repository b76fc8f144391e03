"""Every route answers hostile path values, query strings and bodies without a 500."""

from __future__ import annotations

import itertools
import re

import pytest

PATH_VALUES = ["0", "1", "abc", "99999999999999999999", "2026-13", "%00"]
QUERY = "?k=abc&q=&month=2026-13&since=x&page=-1&client=abc&status=zzz&limit=1e9"
BODIES = [None, "not json", "[]", "{}", '{"x": 1}', '{"subject": null}', '{"useful": "yes"}', '{"action": 123}',
          '{"minutes": 1e309}', '{"subject": "' + "a" * 20000 + '"}']


@pytest.mark.parametrize("role", ["manager", "client"])
def test_no_route_answers_bad_input_with_a_500(app, client_for_role, client_user_client, role):
    from kb.db import make_engine, make_session_factory
    from kb.models import Client, Ticket

    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        session.add(Ticket(client=Client(name="Ромашка"), subject="Не печатает МФУ"))
        session.commit()
    web = client_for_role("manager") if role == "manager" else client_user_client(1)
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for values in itertools.islice(itertools.product(PATH_VALUES, repeat=len(rule.arguments)), 12):
            path = rule.rule
            for name, value in zip(sorted(rule.arguments), values, strict=True):
                path = re.sub(r"<(?:[^:<>]+:)?" + name + ">", value, path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for body in BODIES if method in ("POST", "PUT", "PATCH") else [None]:
                    url = path + (QUERY if method == "GET" else "")
                    response = web.open(url, method=method, data=body, content_type="application/json")
                    if response.status_code == 500:
                        failures.append(f"{method} {url} {body and body[:30]!r}")
    assert failures == []
