"""Billing rules as pure functions: contract terms, the month's usage, and the invoice computed from both.

Nothing here touches the database or the clock; ``service.billing.service`` builds the inputs from the
knowledge store and holds the use cases. Money is ``Decimal`` throughout and is rounded half-up to kopecks once per invoice line.
"""

from service.billing.contract import BillingInputError, Contract, parse_contract
from service.billing.engine import compute_invoice, invoice_to_dict, work_report
from service.billing.usage import Usage, parse_usage

__all__ = [
    "BillingInputError",
    "Contract",
    "Usage",
    "compute_invoice",
    "invoice_to_dict",
    "parse_contract",
    "parse_usage",
    "work_report",
]
