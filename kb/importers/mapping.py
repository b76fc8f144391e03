"""Mappings: which source column feeds which of our fields, value tables and defaults (docs/importers.md).

The GLPI, Zammad, OTRS and EspoCRM mappings in data/mappings/ are such files; ``load_mapping`` reads one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kb.importers.fields import ENTITIES, FIELDS, FieldSpec, convert_value
from kb.importers.report import ImportFileError

#: The keys a mapping (or one entity's section of it) may have.
MAPPING_KEYS = {"columns", "values", "defaults", "datetime_format", "timezone", "comment"}


@dataclass(frozen=True)
class Mapping:
    """How source columns and values become our fields (see docs/importers.md)."""

    #: our field -> source column, or for ``attributes`` a dict {attribute key: source column}.
    columns: dict[str, Any] = field(default_factory=dict)
    #: our field -> {source value: our value}.
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: our field -> value used when the column is absent or the cell is empty.
    defaults: dict[str, Any] = field(default_factory=dict)
    #: strptime format for datetimes (tried before ISO 8601).
    datetime_format: str | None = None
    #: Zone for timestamps without an offset; None means such timestamps are errors.
    timezone: ZoneInfo | None = None

    def translate(self, field_name: str, value: Any) -> Any:
        """``value`` through the field's value table (exact, then case-insensitive, then ``*``); else as is."""
        table = self.values.get(field_name)
        if not table or isinstance(value, (list, dict)):
            return value
        key = str(value).strip()
        if key in table:
            return table[key]
        folded = key.casefold()
        for source, ours in table.items():
            if source.casefold() == folded:
                return ours
        # "*" catches every value the table does not list (e.g. site-specific categories -> one group).
        return table.get("*", value)


def load_mapping(path: str | Path, *, entity: str) -> Mapping:
    """Read and validate a mapping JSON file; raise ImportFileError with one line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"{path}: mapping file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{path}: cannot read mapping file ({exc.__class__.__name__}: {exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return parse_mapping(data, entity=entity, source=str(path))


def parse_mapping(data: Any, *, entity: str, source: str = "mapping") -> Mapping:
    """Validate a mapping document (already JSON-decoded) for ``entity``; raise ImportFileError."""
    data = _entity_section(data, entity, source)
    known = {spec.name: spec for spec in FIELDS[entity]}
    unknown_keys = set(data) - MAPPING_KEYS
    if unknown_keys:
        raise ImportFileError(f"{source}: unknown key(s) {', '.join(sorted(unknown_keys))}")
    columns, values, defaults = (_field_section(data, name, known, entity, source)
                                 for name in ("columns", "values", "defaults"))
    _check_columns(columns, known, source)
    for name, table in values.items():
        if not isinstance(table, dict):
            raise ImportFileError(f"{source}: values.{name} must be an object {{source value: our value}}")
    _check_defaults(defaults, known, source)
    datetime_format = data.get("datetime_format")
    if datetime_format is not None and not isinstance(datetime_format, str):
        raise ImportFileError(f"{source}: datetime_format must be a strptime format string")
    zone = None
    if data.get("timezone") is not None:
        try:
            zone = ZoneInfo(str(data["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise ImportFileError(f"{source}: timezone: unknown time zone {data['timezone']!r}") from None
    return Mapping(columns={k: (v if isinstance(v, dict) else v.strip()) for k, v in columns.items()},
                   values={k: {str(a).strip(): b for a, b in t.items()} for k, t in values.items()},
                   defaults=defaults, datetime_format=datetime_format, timezone=zone)


def _entity_section(data: Any, entity: str, source: str) -> dict:
    # One file may map several entities, one section each ({"clients": {...}, "tickets": {...}}).
    if not isinstance(data, dict):
        raise ImportFileError(f"{source}: must be a JSON object")
    if "columns" not in data and any(key in ENTITIES for key in data):
        if entity not in data:
            raise ImportFileError(f"{source}: has no section for {entity} (sections: {', '.join(sorted(data))})")
        data = data[entity]
        if not isinstance(data, dict):
            raise ImportFileError(f"{source}: section {entity} must be a JSON object")
    return data


def _field_section(data: dict, name: str, known: dict[str, FieldSpec], entity: str, source: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ImportFileError(f"{source}: {name} must be a JSON object")
    for key in value:
        if key not in known:
            raise ImportFileError(
                f"{source}: {name}: unknown field {key!r} for {entity} (fields: {', '.join(known)})")
    return value


def _check_columns(columns: dict, known: dict[str, FieldSpec], source: str) -> None:
    for name, column in columns.items():
        if isinstance(column, dict) and known[name].kind == "json":
            if not all(isinstance(c, str) and c for c in column.values()):
                raise ImportFileError(f"{source}: columns.{name}: every attribute must name a column")
        elif not isinstance(column, str) or not column.strip():
            raise ImportFileError(f"{source}: columns.{name} must be a column name (a non-empty string)")


def _check_defaults(defaults: dict, known: dict[str, FieldSpec], source: str) -> None:
    # A bad default would fail on every row; say so once, for the mapping. References are resolved per import.
    for name, default in defaults.items():
        spec = known[name]
        if spec.kind != "ref":
            try:
                convert_value(spec, default, Mapping())
            except ValueError as exc:
                raise ImportFileError(f"{source}: defaults.{name}: {exc}") from None
