"""Field checks, shared by the JSON API and the use cases, and the API's reading of request bodies.

The checks (``check_*``, :func:`one_of`, :func:`check_email`) are plain functions over a mapping of fields:
they return the accepted value or raise :class:`FieldError` naming the field. The use cases raise that
error as it is (the workflow knows it as ``WorkflowInputError``); the API helpers below (:func:`string`,
:func:`choice`, :func:`integer`, ...) run the same checks and answer a 422 :class:`ApiError` naming the field.

Values are checked against what the database can store, so nothing accepted here fails later on
encoding, overflow or rounding: ids within ``kb.models.MAX_ID``, text without NUL bytes or lone
surrogates, instants between 1900 and 2200, money and hours within the ranges of
``service.platform.money``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from flask import request

from kb.models import MAX_ID
from service.platform.errors import ApiError
from service.platform.money import MAX_MONEY, amount_problem
from service.platform.schema import check_body, current_contract

T = TypeVar("T")

#: Years of the instants accepted: wide enough for any real ticket or contract, narrow enough that
#: converting to UTC and adding months or years never leaves the range of ``datetime``.
MIN_YEAR, MAX_YEAR = 1900, 2200


class FieldError(ValueError):
    """A field's value is not acceptable; ``field`` names it (HTTP 422)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


# --- the checks -----------------------------------------------------------------------------------


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL byte, a lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # JSON's "\ud800" decodes to a lone surrogate that no database can encode
        return "must be valid Unicode text (it contains a lone surrogate)"
    return None


def check_string(data: dict, name: str, *, required: bool = False, max_length: int = 10_000,
                 required_message: str = "is required") -> str | None:
    """A string field, stripped, of at most ``max_length`` characters; None when absent (or null).

    Text that cannot be stored (a NUL byte, a lone surrogate) is refused; a required field must not be blank.
    """
    value = data.get(name)
    if value is None:
        if required:
            raise FieldError(f"{name} {required_message}", name)
        return None
    if not isinstance(value, str):
        raise FieldError(f"{name} must be a string", name)
    problem = text_problem(value)
    if problem is not None:
        raise FieldError(f"{name} {problem}", name)
    value = value.strip()
    if required and not value:
        raise FieldError(f"{name} must not be empty", name)
    if len(value) > max_length:
        raise FieldError(f"{name} must have at most {max_length} characters", name)
    return value


def one_of(value: T | None, name: str, allowed: Iterable[str]) -> T | None:
    """``value`` when it is None or one of ``allowed``, else FieldError naming ``name``."""
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise FieldError(f"{name} must be one of {', '.join(allowed)}", name)
    return value


def check_integer(data: dict, name: str, *, required: bool = False, minimum: int = -MAX_ID,
                  maximum: int = MAX_ID) -> int | None:
    """An integer field (booleans are not integers here) within ``minimum``..``maximum``; None when absent.

    The default range is that of the database's integer columns, so no value fails when it is bound.
    """
    value = data.get(name)
    if value is None:
        if required:
            raise FieldError(f"{name} is required", name)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"{name} must be an integer", name)
    if value < minimum:
        raise FieldError(f"{name} must be >= {minimum}", name)
    if value > maximum:
        raise FieldError(f"{name} must be <= {maximum}", name)
    return value


def check_boolean(data: dict, name: str, *, default: bool = False) -> bool:
    """A true/false field; ``default`` when absent (or null)."""
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise FieldError(f"{name} must be true or false", name)
    return value


def check_integer_list(data: dict, name: str) -> list[int]:
    """A list of ids (integers from 1 to ``MAX_ID``), without repeats; absent means empty."""
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise FieldError(f"{name} must be a list of integers", name)
    if any(not 1 <= v <= MAX_ID for v in value):
        raise FieldError(f"{name} must hold ids between 1 and {MAX_ID}", name)
    return list(dict.fromkeys(value))


def check_instant(data: dict, name: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 instant WITH a UTC offset; a naive time is ambiguous and refused."""
    raw = check_string(data, name, required=required)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise FieldError(f"{name} must be an ISO 8601 date-time, got {raw!r}", name) from None
    if value.tzinfo is None:
        raise FieldError(f"{name} must carry a UTC offset, e.g. 2026-11-23T10:00:00+03:00", name)
    if not instant_in_range(value):
        raise FieldError(f"{name} must lie between the years {MIN_YEAR} and {MAX_YEAR}", name)
    return value


def instant_in_range(value: datetime) -> bool:
    """Whether an aware ``value`` lies within ``MIN_YEAR``..``MAX_YEAR`` once converted to UTC.

    ``0001-01-01T00:00:00+14:00`` parses but is before year 1 in UTC: converting it overflows.
    """
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        return False
    return MIN_YEAR <= year <= MAX_YEAR


def check_amount(data: dict, name: str, *, required: bool = False, minimum: Decimal = Decimal("0"),
                 maximum: Decimal = MAX_MONEY, example: str = "1500.00") -> Decimal | None:
    """A decimal amount given as a string, an integer or a Decimal (never a float: floats lose kopecks),
    within ``minimum``..``maximum`` and with at most two decimal places (the columns' kopecks);
    ``example`` is the value the message shows."""
    value = data.get(name)
    if value is None:
        if required:
            raise FieldError(f"{name} is required", name)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise FieldError(f"{name} must be a decimal string such as \"{example}\"", name)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise FieldError(f"{name} must be a decimal number, got {value!r}", name) from None
    problem = amount_problem(amount, minimum=minimum, maximum=maximum)
    if problem is not None:
        raise FieldError(f"{name} {problem}", name)
    return amount


def check_email(value: str | None, name: str) -> str | None:
    """``value`` when it is None or looks like an e-mail address (``local@domain.tld``, no spaces)."""
    if value is None:
        return None
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise FieldError(f"{name} must be an e-mail address like user@example.com", name)
    return value


# --- the API: the same checks, answered with a 422 ApiError ------------------------------------------


def checked(check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one of the checks above for the API: a FieldError becomes a 422 ApiError naming the field."""
    try:
        return check(*args, **kwargs)
    except FieldError as exc:
        raise ApiError(422, str(exc), field=exc.field) from None


def json_body(fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The request's JSON object, or a 400 saying why it is not one; with ``fields``, a key outside them is
    a 422 naming it (code ``unknown_field``), so a misspelt field is never silently ignored. A view that
    declared a body model with :func:`service.platform.schema.operation` has its body checked by that model
    (unknown keys, types, required fields, ranges) instead of ``fields``."""
    if not request.is_json:
        raise ApiError(415, "send a JSON object with Content-Type: application/json", field="body")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the decoder recurses per nesting level: "[" * 100000 exhausts the stack
        raise ApiError(400, "the request body is nested too deeply", field="body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", field="body")
    contract = current_contract()
    if contract is not None and contract.body is not None:  # the view's declared model (service.platform.schema)
        check_body(contract.body, data)
        return data
    unknown = sorted(set(data) - set(fields)) if fields is not None else []
    if unknown:
        raise ApiError(422, f"unknown field {unknown[0]!r} (allowed: {', '.join(fields)})", field=unknown[0],
                       code="unknown_field")
    return data


def string(data: dict, name: str, *, required: bool = False, max_length: int = 10_000,
           default: str | None = None) -> str | None:
    """A non-empty string field (stripped) of at most ``max_length`` characters."""
    value = checked(check_string, data, name, required=required, max_length=max_length)
    return default if value is None else value


def choice(data: dict, name: str, allowed: Iterable[str], *, required: bool = False,
           default: str | None = None) -> str | None:
    """A string field restricted to ``allowed``."""
    return checked(one_of, string(data, name, required=required, default=default), name, allowed)


def integer(data: dict, name: str, *, required: bool = False, minimum: int = -MAX_ID,
            maximum: int = MAX_ID, default: int | None = None) -> int | None:
    """An integer field (booleans are not integers here) within ``minimum``..``maximum``."""
    value = checked(check_integer, data, name, required=required, minimum=minimum, maximum=maximum)
    return default if value is None else value


def boolean(data: dict, name: str, *, default: bool = False) -> bool:
    return checked(check_boolean, data, name, default=default)


def integer_list(data: dict, name: str) -> list[int]:
    """A list of ids (integers from 1 to ``MAX_ID``); absent means empty."""
    return checked(check_integer_list, data, name)


def instant(data: dict, name: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 instant WITH a UTC offset; a naive time is ambiguous and refused."""
    return checked(check_instant, data, name, required=required)


def money(data: dict, name: str, *, required: bool = False, minimum: Decimal = Decimal("0"),
          maximum: Decimal = MAX_MONEY) -> Decimal | None:
    """A decimal amount given as a string or an integer (never a float: floats lose kopecks), within
    ``minimum``..``maximum`` and with at most two decimal places (the columns' kopecks)."""
    return checked(check_amount, data, name, required=required, minimum=minimum, maximum=maximum)
