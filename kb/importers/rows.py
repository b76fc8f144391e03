"""Source rows to our field values: pick each field's column, convert and validate, without the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.importers.fields import FIELDS, FieldSpec, convert_value, is_empty
from kb.importers.mapping import Mapping
from kb.importers.report import ImportFileError, RowError
from kb.importers.sources import SourceRow, SourceTable


@dataclass
class ParsedRow:
    """One row as our field values (references still unresolved keys), and where each value came from."""

    number: int
    values: dict[str, Any]
    #: our field -> the source column it came from (for messages).
    origin: dict[str, str]
    #: False once any problem was found; such rows are still checked further so all problems are listed.
    ok: bool = True


def parse_rows(entity: str, table: SourceTable, mapping: Mapping, path: Path) -> tuple[list[ParsedRow], list[RowError]]:
    """Convert and validate every row without touching the store (references stay unresolved keys).

    Rows with problems come back with ``ok`` False (and their errors in the list), so that their
    references can still be checked and every problem of a row reported at once.
    """
    plan = _plan_columns(entity, mapping, table, path)
    parsed: list[ParsedRow] = []
    errors = list(table.errors)
    seen_ids: dict[str, int] = {}
    for row in table.rows:
        values, origin, row_errors = _parse_row(entity, row, plan, mapping, path)
        external_id = values.get("external_id")
        if external_id is not None:
            if external_id in seen_ids:
                row_errors.append(RowError(str(path), row.number, origin["external_id"],
                                           f"duplicate external_id {external_id!r} (first at row {seen_ids[external_id]})"))
            else:
                seen_ids[external_id] = row.number
        errors.extend(row_errors)
        parsed.append(ParsedRow(row.number, values, origin, ok=not row_errors))
    return parsed, errors


def _plan_columns(entity: str, mapping: Mapping, table: SourceTable, path: Path) -> dict[str, Any]:
    """Our field -> source column (or attribute dict); raise ImportFileError for missing columns."""
    present = set(table.columns)
    by_fold = {c.casefold(): c for c in table.columns}
    plan: dict[str, Any] = {}
    for spec in FIELDS[entity]:
        column = mapping.columns.get(spec.name)
        if isinstance(column, dict):
            missing = [c for c in column.values() if c not in present]
            if missing:
                raise ImportFileError(f"{path}: mapping names column {missing[0]!r} for {spec.name}, but the file "
                                      f"has no such column (columns: {', '.join(table.columns)})")
            plan[spec.name] = column
        elif column is not None:
            if column not in present:
                raise ImportFileError(f"{path}: mapping names column {column!r} for {spec.name}, but the file "
                                      f"has no such column (columns: {', '.join(table.columns)})")
            plan[spec.name] = column
        elif spec.name.casefold() in by_fold:
            plan[spec.name] = by_fold[spec.name.casefold()]
        if spec.required and spec.name not in plan and spec.name not in mapping.defaults:
            raise ImportFileError(
                f"{path}: no column for required field {spec.name} of {entity} (columns: "
                f"{', '.join(table.columns)}); map one under \"columns\" in --mapping or give a default")
    return plan


def _parse_row(entity: str, row: SourceRow, plan: dict[str, Any], mapping: Mapping,
               path: Path) -> tuple[dict[str, Any], dict[str, str], list[RowError]]:
    """One row's values and their source columns, and every problem found in it."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    row_errors: list[RowError] = []
    for spec in FIELDS[entity]:
        raw, label = _source_value(spec, row, plan, mapping)
        if is_empty(raw):
            if spec.required:
                row_errors.append(RowError(str(path), row.number, label, f"{spec.name} is required but empty"))
            continue
        try:
            value = convert_value(spec, raw, mapping)
        except ValueError as exc:
            row_errors.append(RowError(str(path), row.number, label, str(exc)))
            continue
        if value == [] and spec.required:
            row_errors.append(RowError(str(path), row.number, label, f"{spec.name} is required but empty"))
        elif value != []:
            values[spec.name], origin[spec.name] = value, label
    return values, origin, row_errors


def _source_value(spec: FieldSpec, row: SourceRow, plan: dict[str, Any], mapping: Mapping) -> tuple[Any, str]:
    """The raw value of ``spec`` in ``row`` (or the mapping's default) and the column name for messages."""
    column = plan.get(spec.name)
    if isinstance(column, dict):
        raw = {key: row.values.get(col) for key, col in column.items() if not is_empty(row.values.get(col))}
        label = ", ".join(column.values())
    else:
        raw = row.values.get(column) if column is not None else None
        label = column or spec.name
    if not is_empty(raw) and spec.kind not in ("ref", "list") and is_empty(mapping.translate(spec.name, raw)):
        raw = None  # the mapping translates this source value to "no value" (e.g. Zammad's "-" owner)
    if is_empty(raw) and spec.name in mapping.defaults:
        raw, label = mapping.defaults[spec.name], f"{column or spec.name} (default)"
    return raw, label
