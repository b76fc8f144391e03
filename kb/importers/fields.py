"""Our fields per entity (type and constraints) and the conversion of one source value to a field's value."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kb import vocab

if TYPE_CHECKING:  # mapping.py validates its defaults with convert_value, so it imports this module
    from kb.importers.mapping import Mapping

ENTITIES = ("tickets", "clients", "nodes", "specialists", "articles")

#: Separators of several values in one CSV cell (node lists, assignees, tags, skills).
LIST_SEPARATORS = re.compile(r"\s*(?:;|\||\n|<br\s*/?>)\s*", re.IGNORECASE)

TRUE_WORDS = {"1", "true", "t", "yes", "y", "on", "да", "д", "истина", "вкл", "+"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "off", "нет", "н", "ложь", "выкл", "-"}


@dataclass(frozen=True)
class FieldSpec:
    """One of our fields: its type and constraints."""

    name: str
    kind: str  # str, text, email, int, bool, datetime, choice, json, list, skills, timezone, ref
    required: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    #: For kind "ref": client, specialist or node; ``many`` for a list of references.
    target: str | None = None
    many: bool = False


def _field(name: str, kind: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, kind=kind, **kw)


FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "clients": (
        _field("external_id", "str", required=True, max_length=100),
        _field("name", "str", required=True, max_length=200),
        _field("sla_policy", "str", max_length=50),
        _field("calendar", "choice", choices=vocab.CALENDARS),
        _field("timezone", "timezone"),
        _field("country", "str", max_length=2),
        _field("region", "str", max_length=100),
        _field("manager", "str", max_length=200),
        _field("manager_email", "email", max_length=200),
        _field("email", "email", max_length=200),
        #: Mail domains of the client's own: e-mail intake takes their senders as the client's.
        _field("email_domains", "list"),
        _field("field_engineer", "ref", target="specialist"),
    ),
    "nodes": (
        _field("external_id", "str", required=True, max_length=100),
        _field("client", "ref", required=True, target="client"),
        _field("kind", "choice", required=True, choices=vocab.NODE_KINDS),
        _field("name", "str", required=True, max_length=200),
        _field("attributes", "json"),
        _field("criticality", "choice", choices=vocab.CRITICALITIES),
        _field("monitored", "bool"),
        _field("region", "str", max_length=100),
        _field("depends_on", "ref", target="node", many=True),
    ),
    "specialists": (
        _field("external_id", "str", required=True, max_length=100),
        _field("name", "str", required=True, max_length=200),
        _field("email", "email", max_length=200),
        _field("line", "int", minimum=1, maximum=3),
        _field("region", "str", max_length=100),
        _field("partner", "str", max_length=200),
        _field("calendar", "choice", choices=vocab.CALENDARS),
        _field("timezone", "timezone"),
        _field("capacity", "int", minimum=0, maximum=1000),
        _field("active", "bool"),
        _field("skills", "skills"),
    ),
    "tickets": (
        _field("external_id", "str", required=True, max_length=100),
        _field("client", "ref", required=True, target="client"),
        _field("subject", "str", required=True, max_length=500),
        _field("description", "text"),
        _field("requester_name", "str", max_length=200),
        _field("requester_email", "email", max_length=200),
        _field("channel", "choice", choices=vocab.CHANNELS),
        _field("type", "choice", choices=vocab.TICKET_TYPES),
        _field("priority", "choice", choices=vocab.PRIORITIES),
        _field("group", "choice", choices=vocab.GROUPS),
        _field("status", "choice", choices=vocab.STATUSES),
        _field("resolution", "text"),
        _field("billing_mode", "choice", choices=vocab.BILLING_MODES),
        _field("created_at", "datetime"),
        _field("reacted_at", "datetime"),
        _field("work_started_at", "datetime"),
        _field("resolved_at", "datetime"),
        _field("closed_at", "datetime"),
        _field("nodes", "ref", target="node", many=True),
        _field("assignees", "ref", target="specialist", many=True),
    ),
    "articles": (
        _field("external_id", "str", required=True, max_length=100),
        _field("title", "str", required=True, max_length=500),
        _field("body", "text", required=True),
        _field("group", "choice", choices=vocab.GROUPS),
        _field("tags", "list"),
        _field("created_at", "datetime"),
    ),
}


def is_empty(value: Any) -> bool:
    """True for "no value": None, a blank string, an empty list or an empty object."""
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def parse_instant(value: Any, mapping: Mapping) -> datetime:
    """A timezone-aware datetime from ISO 8601 (or the mapping's format); naive needs the mapping's zone."""
    text = str(value).strip()
    parsed = None
    if mapping.datetime_format:
        try:
            parsed = datetime.strptime(text, mapping.datetime_format)
        except ValueError:
            parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            expected = f"{mapping.datetime_format!r} or ISO 8601" if mapping.datetime_format else "ISO 8601"
            raise ValueError(f"{text!r} is not a date-time ({expected}, e.g. 2024-03-01T09:30:00+03:00)") from None
    if parsed.tzinfo is None:
        if mapping.timezone is None:
            raise ValueError(f"{text!r} has no UTC offset; add one (e.g. +03:00) or set \"timezone\" in the mapping")
        parsed = parsed.replace(tzinfo=mapping.timezone)
    return parsed


def _split(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [v for v in value if not is_empty(v)]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                loaded = json.loads(text)
            except json.JSONDecodeError:
                loaded = None
            if isinstance(loaded, list):
                return [v for v in loaded if not is_empty(v)]
        return [part for part in LIST_SEPARATORS.split(text) if part]
    return [value]


def _parse_skills(value: Any) -> dict[str, int]:
    if isinstance(value, str) and value.strip()[:1] in "{[":
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON ({exc.msg})") from None
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        try:
            pairs = [(v["group"], v.get("level", 3)) for v in value]
        except KeyError:
            raise ValueError('each skill object needs a "group"') from None
    else:
        for part in _split(value):
            group, _, level = str(part).partition(":")
            pairs.append((group, level.strip() or 3))
    skills: dict[str, int] = {}
    for group, level in pairs:
        group = str(group).strip().lower()
        if group not in vocab.GROUPS:
            raise ValueError(f"unknown skill group {group!r} (groups: {', '.join(vocab.GROUPS)})")
        level_int = _to_int(level)
        if not 1 <= level_int <= 5:
            raise ValueError(f"skill level of {group} must be 1..5, got {level_int}")
        skills[group] = level_int
    return skills


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        return int(float(text)) if "." in text else int(text)
    raise ValueError(f"{value!r} is not a whole number")


# --- one converter per kind: (spec, value already translated by the mapping, mapping) -> our value ------


def _convert_text(spec: FieldSpec, value: Any, mapping: Mapping) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("expected text, got a JSON " + ("object" if isinstance(value, dict) else "array"))
    text = str(value).strip() if spec.kind != "text" else str(value)
    if spec.name == "country":
        if not re.fullmatch(r"[A-Za-z]{2}", text):
            raise ValueError(f"{text!r} is not a two-letter country code (e.g. RU)")
        return text.upper()
    if spec.max_length is not None and len(text) > spec.max_length:
        raise ValueError(f"too long: {len(text)} characters, at most {spec.max_length}")
    if spec.kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise ValueError(f"{text!r} is not an e-mail address")
    return text.lower() if spec.name == "sla_policy" else text


def _convert_int(spec: FieldSpec, value: Any, mapping: Mapping) -> int:
    number = _to_int(value)
    if spec.minimum is not None and number < spec.minimum or spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"{number} is out of range {spec.minimum}..{spec.maximum}")
    return number


def _convert_bool(spec: FieldSpec, value: Any, mapping: Mapping) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not a yes/no value (true/false, yes/no, да/нет, 1/0)")


def _convert_choice(spec: FieldSpec, value: Any, mapping: Mapping) -> str:
    word = str(value).strip()
    normal = re.sub(r"[\s-]+", "_", word.casefold())
    if normal in spec.choices:
        return normal
    raise ValueError(f"{word!r} is not one of {', '.join(spec.choices)} "
                     f"(translate it under \"values\": {{\"{spec.name}\": {{...}}}} in the mapping)")


def _convert_datetime(spec: FieldSpec, value: Any, mapping: Mapping) -> datetime:
    if isinstance(value, datetime):
        return value
    return parse_instant(value, mapping)


def _convert_timezone(spec: FieldSpec, value: Any, mapping: Mapping) -> str:
    try:
        ZoneInfo(str(value).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Moscow)") from None
    return str(value).strip()


def _convert_json(spec: FieldSpec, value: Any, mapping: Mapping) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _convert_skills(spec: FieldSpec, value: Any, mapping: Mapping) -> dict[str, int]:
    return _parse_skills(value)


CONVERTERS: dict[str, Callable[[FieldSpec, Any, Mapping], Any]] = {
    "str": _convert_text,
    "text": _convert_text,
    "email": _convert_text,
    "int": _convert_int,
    "bool": _convert_bool,
    "choice": _convert_choice,
    "datetime": _convert_datetime,
    "timezone": _convert_timezone,
    "json": _convert_json,
    "skills": _convert_skills,
}


def _convert_keys(spec: FieldSpec, value: Any, mapping: Mapping) -> list[str]:
    # Each element of a list is translated on its own, so one value table serves single and multiple values.
    keys = [str(k).strip() for k in (mapping.translate(spec.name, v) for v in _split(value)) if not is_empty(k)]
    if spec.kind == "ref" and not spec.many and len(keys) > 1:
        raise ValueError(f"expected one {spec.target}, got {len(keys)}")
    return keys


def convert_value(spec: FieldSpec, value: Any, mapping: Mapping) -> Any:
    """Convert one non-empty source value to our field's type; raise ValueError with a short reason.

    References (kind ``ref``) come back as a list of keys (strings) to resolve against the store.
    """
    if spec.kind in ("ref", "list"):
        return _convert_keys(spec, value, mapping)
    value = mapping.translate(spec.name, value)
    converter = CONVERTERS.get(spec.kind)
    if converter is None:
        raise AssertionError(f"unknown field kind {spec.kind}")
    return converter(spec, value, mapping)
