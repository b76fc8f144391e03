"""``precedent bill``: a month's invoice, from two JSON files or from the knowledge store."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click

from service.billing.contract import BillingInputError, month_value, parse_contract
from service.billing.engine import compute_invoice, invoice_to_dict, work_report
from service.billing.usage import parse_usage
from service.cli.common import echo_json, fail, store_session


def _load_json(path: str, option: str) -> object:
    """A JSON file with every non-integer number read as a Decimal (no float ever touches money)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{option}: cannot read {path}: {exc.strerror or exc}")
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        fail(f"{option}: {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")


@click.command("bill")
@click.option("--contract", "contract_path", metavar="CONTRACT.json", help="Contract document (docs/billing.md).")
@click.option("--usage", "usage_path", metavar="USAGE.json", help="Usage document of one month (docs/billing.md).")
@click.option("--client", "client_id", type=int, help="Client id in the knowledge store.")
@click.option("--month", help="Month YYYY-MM (with --client).")
@click.option("--work-report", "report", is_flag=True, help="Print the month's work report instead of the invoice.")
@click.option("--dump-usage", is_flag=True, help="With --client: print the usage document built from the store.")
def bill(contract_path: str | None, usage_path: str | None, client_id: int | None, month: str | None,
         report: bool, dump_usage: bool) -> None:
    """Compute a month's invoice and print it as JSON.

    Either a pure calculation from two files (--contract and --usage), or a client's month from the
    knowledge store (--client and --month). Bad input exits 2 naming the field.
    """
    from_files = contract_path is not None or usage_path is not None
    from_store = client_id is not None or month is not None
    if from_files and from_store:
        fail("--contract/--usage and --client/--month are exclusive: give one pair")
    if from_files:
        if contract_path is None or usage_path is None:
            fail("--contract and --usage must be given together")
        if dump_usage:
            fail("--dump-usage: only with --client and --month")
        contract_doc = _load_json(contract_path, "--contract")
        usage_doc = _load_json(usage_path, "--usage")
        try:
            contract = parse_contract(contract_doc)
        except BillingInputError as exc:
            fail(f"--contract {contract_path}: {exc}")
        try:
            usage = parse_usage(usage_doc)
            invoice = compute_invoice(contract, usage)
        except BillingInputError as exc:
            fail(f"--usage {usage_path}: {exc}")
        echo_json(work_report(usage) if report else invoice_to_dict(invoice))
        return
    if client_id is None or month is None:
        fail("give --contract and --usage, or --client and --month")
    try:
        month = month_value(month, "--month")
    except BillingInputError as exc:
        fail(str(exc))

    from service.billing import service as billing_service

    with store_session() as session:
        try:
            billing_service.invoice_is_draft(session, client_id=client_id, month=month)  # refuses a month not begun
            client, _, contract, usage = billing_service.client_usage(session, client_id=client_id, month=month)
            if dump_usage:
                echo_json(billing_service.build_usage_document(
                    session, client=client, month=month, prepaid_opening_hours=usage.prepaid_opening_hours))
                return
            invoice = compute_invoice(contract, usage)
        except billing_service.NotFound as exc:
            fail(f"--{exc.field}: {exc}")
        except billing_service.FutureMonth as exc:
            fail(f"--month: {exc}")
        except BillingInputError as exc:
            fail(f"client {client_id}: stored contract or usage is invalid: {exc}")
    echo_json(work_report(usage) if report else invoice_to_dict(invoice))
