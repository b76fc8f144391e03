"""SLA: the pure engine over plain data (no Flask, no database), and its store side.

* :mod:`service.sla.calendar` — business calendars (weekly hours, public holidays, time zone), the one
  calendar of the service (billing's off-hours work too), and the month helpers.
* :mod:`service.sla.policies` — SLA policies as data (seed 000 tiers, seed 002 plans, seed 003 24x7x4).
* :mod:`service.sla.clock` — due instants, remaining and overdue working time, at-risk / breached states.
* :mod:`service.sla.penalties` — penalty per breach from contract terms.
* :mod:`service.sla.report` — the monthly SLA report over plain ticket data.
* :mod:`service.sla.service` — the store side: clocks stored, events, mail, reports (use cases that commit
  once); :mod:`service.sla.scheduler` — the background check.
"""
