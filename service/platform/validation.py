"""Validation of JSON request bodies: every problem becomes a 4xx ApiError naming the field.

Values are checked against what the database can store, so nothing accepted here fails later on
encoding, overflow or rounding: ids within ``kb.models.MAX_ID``, text without NUL bytes or lone
surrogates, instants between 1900 and 2200, money and hours within the ranges of
``service.billing.contract``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import request

from kb.models import MAX_ID
from service.platform.errors import ApiError
from service.platform.money import MAX_MONEY, amount_problem

_MISSING = object()

#: Years of the instants accepted: wide enough for any real ticket or contract, narrow enough that
#: converting to UTC and adding months or years never leaves the range of ``datetime``.
MIN_YEAR, MAX_YEAR = 1900, 2200


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 saying why it is not one."""
    if not request.is_json:
        raise ApiError(415, "send a JSON object with Content-Type: application/json", field="body")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the decoder recurses per nesting level: "[" * 100000 exhausts the stack
        raise ApiError(400, "the request body is nested too deeply", field="body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", field="body")
    return data


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL byte, a lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # JSON's "\ud800" decodes to a lone surrogate that no database can encode
        return "must be valid Unicode text (it contains a lone surrogate)"
    return None


def string(data: dict, name: str, *, required: bool = False, max_length: int = 10_000,
           default: str | None = None) -> str | None:
    """A non-empty string field (stripped) of at most ``max_length`` characters."""
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise ApiError(422, f"{name} is required", field=name)
        return default
    if not isinstance(value, str):
        raise ApiError(422, f"{name} must be a string", field=name)
    problem = text_problem(value)
    if problem is not None:
        raise ApiError(422, f"{name} {problem}", field=name)
    value = value.strip()
    if required and not value:
        raise ApiError(422, f"{name} must not be empty", field=name)
    if len(value) > max_length:
        raise ApiError(422, f"{name} must have at most {max_length} characters", field=name)
    return value


def choice(data: dict, name: str, allowed: Iterable[str], *, required: bool = False,
           default: str | None = None) -> str | None:
    """A string field restricted to ``allowed``."""
    allowed = tuple(allowed)
    value = string(data, name, required=required, default=default)
    if value is not None and value not in allowed:
        raise ApiError(422, f"{name} must be one of {', '.join(allowed)}", field=name)
    return value


def integer(data: dict, name: str, *, required: bool = False, minimum: int = -MAX_ID,
            maximum: int = MAX_ID, default: int | None = None) -> int | None:
    """An integer field (booleans are not integers here) within ``minimum``..``maximum``; the default
    range is that of the database's integer columns, so no value fails when it is bound."""
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise ApiError(422, f"{name} is required", field=name)
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, f"{name} must be an integer", field=name)
    if value < minimum:
        raise ApiError(422, f"{name} must be >= {minimum}", field=name)
    if value > maximum:
        raise ApiError(422, f"{name} must be <= {maximum}", field=name)
    return value


def boolean(data: dict, name: str, *, default: bool = False) -> bool:
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(422, f"{name} must be true or false", field=name)
    return value


def integer_list(data: dict, name: str) -> list[int]:
    """A list of ids (integers from 1 to ``MAX_ID``); absent means empty."""
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ApiError(422, f"{name} must be a list of integers", field=name)
    if any(not 1 <= v <= MAX_ID for v in value):
        raise ApiError(422, f"{name} must hold ids between 1 and {MAX_ID}", field=name)
    return list(dict.fromkeys(value))


def instant(data: dict, name: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 instant WITH a UTC offset; a naive time is ambiguous and refused."""
    raw = string(data, name, required=required)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, f"{name} must be an ISO 8601 date-time, got {raw!r}", field=name) from None
    if value.tzinfo is None:
        raise ApiError(422, f"{name} must carry a UTC offset, e.g. 2026-11-23T10:00:00+03:00", field=name)
    if not instant_in_range(value):
        raise ApiError(422, f"{name} must lie between the years {MIN_YEAR} and {MAX_YEAR}", field=name)
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


def money(data: dict, name: str, *, required: bool = False, minimum: Decimal = Decimal("0"),
          maximum: Decimal = MAX_MONEY) -> Decimal | None:
    """A decimal amount given as a string or an integer (never a float: floats lose kopecks), within
    ``minimum``..``maximum`` and with at most two decimal places (the columns' kopecks)."""
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise ApiError(422, f"{name} is required", field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiError(422, f"{name} must be a decimal string such as \"1500.00\"", field=name)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(422, f"{name} must be a decimal number, got {value!r}", field=name) from None
    problem = amount_problem(amount, minimum=minimum, maximum=maximum)
    if problem is not None:
        raise ApiError(422, f"{name} {problem}", field=name)
    return amount
