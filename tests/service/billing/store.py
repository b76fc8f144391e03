"""A small, hand-checked month of work in the knowledge store for the billing service, CLI and API tests.

Client "Ромашка" (Europe/Moscow, 10x5, RU) on a Silver package contract: 10 h for 20000, hourly rate 2000,
off-hours coefficient 1.5. November 2026 (Moscow time):

* ticket A (included): Nov 1 00:30 Sunday, 30 min, off-hours agreed -> package; Nov 3 10:00, 300 min on site
  -> package; Nov 4 12:00 (Unity Day, a public holiday), 60 min, not agreed -> off-hours 1 h x 3000 = 3000;
  Nov 5 11:00, 400 min -> package used up (30 + 300 + 270 = 600), 130 min over; Nov 7 Saturday 12:00,
  60 min agreed -> over. Overage 30 + ... = 190 min: 2000 x 190 / 60 = 6333.33.
  (The Nov 1 entry starts 2026-10-31 21:30 UTC: it belongs to November in the client's time zone.)
* ticket B (hourly, estimate 3 h): Nov 10 10:00, 120 min -> 4000.
* ticket C (fixed 40000, changed to 45000 by a change request), resolved Nov 20 -> 45000.
* one resolution breach on ticket A recorded Nov 12 with a penalty of 700 -> -700.
* a ticket of October (not billed in November) and another client's ticket (never billed here).

Invoice: package 20000 x 1.25 = 25000 + 6333.33 + 3000 + 4000 + 45000 - 700 = 82633.33.
Seats: 3 workstations, 2 servers (a server and a virtualization host); the printer is not a seat.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from kb.models import ChangeRequest, Client, Contract, Node, SlaEvent, Specialist, Ticket, TimeEntry

MSK = ZoneInfo("Europe/Moscow")
EXPECTED_TOTAL = Decimal("82633.33")

PACKAGE_TERMS = {"hourly_rate": "2000.00", "off_hours_coefficient": "1.5",
                 "package": {"hours": 10, "monthly_fee": "20000.00"}}


def msk(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


def seed_month(session) -> dict:
    """Store the month described in the module docstring; return the ids the tests need."""
    engineer = Specialist(name="Иванов И. И.")
    client = Client(name="Ромашка", timezone="Europe/Moscow", calendar="10x5", country="RU")
    other = Client(name="Лютик")
    session.add_all([engineer, client, other])
    session.flush()
    for kind, name in [("workstation", "ws1"), ("workstation", "ws2"), ("workstation", "ws3"),
                       ("server", "srv1"), ("virtualization_host", "esx1"), ("printer", "mfp1")]:
        session.add(Node(client_id=client.id, kind=kind, name=name))
    session.add(Contract(client_id=client.id, plan_kind="package", tier="silver",
                         valid_from=msk(10, 1, 0), terms=PACKAGE_TERMS))

    a = Ticket(client_id=client.id, subject="Не печатает МФУ", billing_mode="included")
    b = Ticket(client_id=client.id, subject="VPN для филиала", billing_mode="hourly", estimate_hours=Decimal("3"))
    c = Ticket(client_id=client.id, subject="Переезд серверной", billing_mode="fixed",
               fixed_price=Decimal("45000"), resolved_at=msk(11, 20, 15), status="resolved")
    october = Ticket(client_id=client.id, subject="Октябрьская заявка")
    foreign = Ticket(client_id=other.id, subject="Чужая заявка")
    session.add_all([a, b, c, october, foreign])
    session.flush()

    def work(ticket, start, minutes, **fields):
        session.add(TimeEntry(ticket_id=ticket.id, specialist_id=engineer.id, started_at=start, minutes=minutes,
                              **fields))

    work(a, datetime(2026, 10, 31, 21, 30, tzinfo=UTC), 30, off_hours_agreed=True)
    work(a, msk(11, 3, 10), 300, on_site=True)
    work(a, msk(11, 4, 12), 60)
    work(a, msk(11, 5, 11), 400)
    work(a, msk(11, 7, 12), 60, off_hours_agreed=True)
    work(b, msk(11, 10, 10), 120, work_kind="hourly")
    work(c, msk(11, 18, 10), 240, work_kind="fixed", on_site=True)
    work(october, msk(10, 20, 10), 600)
    work(foreign, msk(11, 3, 10), 600)
    session.add(ChangeRequest(ticket_id=c.id, old_price=Decimal("40000"), new_price=Decimal("45000"),
                              agreed_by="Петров", agreed_at=msk(11, 12, 10)))
    session.add(SlaEvent(ticket_id=a.id, target="resolution", state="breached", due_at=msk(11, 11, 10),
                         recorded_at=msk(11, 12, 10), overdue_minutes=120, penalty=Decimal("700")))
    session.commit()
    return {"client": client.id, "other": other.id, "a": a.id, "b": b.id, "c": c.id, "engineer": engineer.id}
