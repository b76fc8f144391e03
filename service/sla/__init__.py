"""SLA engine: pure functions over plain data (no Flask, no database).

* :mod:`service.sla.calendar` — business calendars (weekly hours, public holidays, time zone).
* :mod:`service.sla.policies` — SLA policies as data (seed 000 tiers, seed 002 plans, seed 003 24x7x4).
* :mod:`service.sla.clock` — due instants, remaining and overdue working time, at-risk / breached states.
* :mod:`service.sla.penalties` — penalty per breach from contract terms.
* :mod:`service.sla.report` — the monthly SLA report over plain ticket data.
"""
