"""``precedent partners``: the regional service partner companies and their SLA targets towards us."""

from __future__ import annotations

import getpass

import click

from service.cli.common import echo_json, fail, store_session
from service.directory import partners as partner_directory


@click.group()
def partners() -> None:
    """Regional service partners."""


@partners.command("create")
@click.argument("name")
@click.option("--region", "regions", multiple=True, required=True, help="A region served (repeat for several).")
@click.option("--contract", "contract_ref", default=None, help="The contract's reference.")
@click.option("--reaction-hours", default="2", show_default=True, help="Reaction target, working hours.")
@click.option("--onsite-hours", default="8", show_default=True, help="On-site arrival target, working hours.")
@click.option("--resolution-hours", default="24", show_default=True, help="Resolution target, working hours.")
@click.option("--hourly-rate", default="0", show_default=True, help="What we pay per hour of work (RUB).")
@click.option("--calendar", default="10x5", show_default=True, help="Working calendar: 10x5, 8x5 or 24x7.")
@click.option("--timezone", default="Europe/Moscow", show_default=True, help="IANA time zone.")
@click.option("--country", default="RU", show_default=True, help="Country whose holidays apply.")
def create(name: str, regions: tuple[str, ...], **terms: str) -> None:
    """Register partner company NAME serving the given regions."""
    with store_session() as session:
        try:
            partner = partner_directory.create_partner(session, name=name, regions=list(regions),
                                                       actor=f"cli:{getpass.getuser()}", **terms)
        except partner_directory.PartnerError as exc:
            fail(f"{exc.field}: {exc}")
        echo_json(partner_directory.partner_dict(partner))


@partners.command("list")
def list_command() -> None:
    """Print every partner with its regions and targets."""
    with store_session() as session:
        echo_json([partner_directory.partner_dict(p) for p in partner_directory.list_partners(session)])


@partners.command("add-login")
@click.argument("partner_id", type=int)
@click.argument("username")
@click.option("--specialist", "specialist_id", type=int, default=None, help="The partner's engineer it is.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def add_login(partner_id: int, username: str, specialist_id: int | None, password: str) -> None:
    """Create a partner_engineer login for PARTNER_ID: it sees only the tickets assigned to its company."""
    with store_session() as session:
        try:
            user = partner_directory.add_partner_login(session, partner_id=partner_id, username=username,
                                                       password=password, specialist_id=specialist_id,
                                                       actor=f"cli:{getpass.getuser()}")
        except partner_directory.PartnerError as exc:
            fail(f"{exc.field}: {exc}")
        echo_json({"id": user.id, "username": user.username, "role": user.role, "partner_id": user.partner_id})


@partners.command("report")
@click.argument("partner_id", type=int)
@click.argument("month")
def report(partner_id: int, month: str) -> None:
    """The partner's report for MONTH (YYYY-MM): tasks, its SLA, time, what we owe, remote vs on site."""
    from service.sla.partner_report import PartnerReportError, build_partner_report

    with store_session() as session:
        try:
            echo_json(build_partner_report(session, partner_id=partner_id, month=month))
        except PartnerReportError as exc:
            fail(f"{exc.field}: {exc}")
