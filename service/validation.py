"""Validation of JSON request bodies: every problem becomes a 4xx ApiError naming the field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import request

from service.errors import ApiError

_MISSING = object()


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 saying why it is not one."""
    if not request.is_json:
        raise ApiError(415, "send a JSON object with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


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


def integer(data: dict, name: str, *, required: bool = False, minimum: int | None = None,
            maximum: int | None = None, default: int | None = None) -> int | None:
    """An integer field (booleans are not integers here)."""
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise ApiError(422, f"{name} is required", field=name)
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, f"{name} must be an integer", field=name)
    if minimum is not None and value < minimum:
        raise ApiError(422, f"{name} must be >= {minimum}", field=name)
    if maximum is not None and value > maximum:
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
    """A list of integers (e.g. ids); absent means empty."""
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ApiError(422, f"{name} must be a list of integers", field=name)
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
    return value


def money(data: dict, name: str, *, required: bool = False, minimum: Decimal | None = Decimal("0")) -> Decimal | None:
    """A decimal amount given as a string or an integer (never a float: floats lose kopecks)."""
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
    if not amount.is_finite() or (minimum is not None and amount < minimum):
        raise ApiError(422, f"{name} must be a finite amount >= {minimum}", field=name)
    return amount
