"""Importers: load clients, nodes, specialists, tickets and articles from CSV or JSON Lines exports.

A file is read whole, every row is validated (types, vocabularies, lengths, references) before anything is
written, and rows are upserted by ``external_id``, so importing the same file again updates and never
duplicates. A file with bad rows imports nothing unless ``skip_invalid`` is set. Every problem with a row is
reported as ``FILE:ROW: column X: what is wrong`` where X is the column name of the source file; problems with
the file itself (missing, empty, undecodable, bad mapping) raise :class:`ImportFileError` with one line.
See docs/importers.md for the formats and the mapping file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import Article, Assignment, AuditEvent, Client, Node, Skill, Specialist, Ticket

ENTITIES = ("tickets", "clients", "nodes", "specialists", "articles")

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)

#: Separators of several values in one CSV cell (node lists, assignees, tags, skills).
LIST_SEPARATORS = re.compile(r"\s*(?:;|\||\n|<br\s*/?>)\s*", re.IGNORECASE)

TRUE_WORDS = {"1", "true", "t", "yes", "y", "on", "да", "д", "истина", "вкл", "+"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "off", "нет", "н", "ложь", "выкл", "-"}

#: Error lines kept in the audit summary (the CLI prints them all).
AUDIT_ERROR_LIMIT = 50


class ImportFileError(ValueError):
    """A problem with the file or the mapping as a whole (one line, no row)."""


# --- field specifications -----------------------------------------------------------------------


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


def _f(name: str, kind: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, kind=kind, **kw)


FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "clients": (
        _f("external_id", "str", required=True, max_length=100),
        _f("name", "str", required=True, max_length=200),
        _f("sla_policy", "str", max_length=50),
        _f("calendar", "choice", choices=vocab.CALENDARS),
        _f("timezone", "timezone"),
        _f("country", "str", max_length=2),
        _f("region", "str", max_length=100),
        _f("manager", "str", max_length=200),
        _f("manager_email", "email", max_length=200),
        _f("email", "email", max_length=200),
        #: Mail domains of the client's own: e-mail intake takes their senders as the client's.
        _f("email_domains", "list"),
        _f("field_engineer", "ref", target="specialist"),
    ),
    "nodes": (
        _f("external_id", "str", required=True, max_length=100),
        _f("client", "ref", required=True, target="client"),
        _f("kind", "choice", required=True, choices=vocab.NODE_KINDS),
        _f("name", "str", required=True, max_length=200),
        _f("attributes", "json"),
        _f("criticality", "choice", choices=vocab.CRITICALITIES),
        _f("monitored", "bool"),
        _f("region", "str", max_length=100),
        _f("depends_on", "ref", target="node", many=True),
    ),
    "specialists": (
        _f("external_id", "str", required=True, max_length=100),
        _f("name", "str", required=True, max_length=200),
        _f("email", "email", max_length=200),
        _f("line", "int", minimum=1, maximum=3),
        _f("region", "str", max_length=100),
        _f("partner", "str", max_length=200),
        _f("calendar", "choice", choices=vocab.CALENDARS),
        _f("timezone", "timezone"),
        _f("capacity", "int", minimum=0, maximum=1000),
        _f("active", "bool"),
        _f("skills", "skills"),
    ),
    "tickets": (
        _f("external_id", "str", required=True, max_length=100),
        _f("client", "ref", required=True, target="client"),
        _f("subject", "str", required=True, max_length=500),
        _f("description", "text"),
        _f("requester_name", "str", max_length=200),
        _f("requester_email", "email", max_length=200),
        _f("channel", "choice", choices=vocab.CHANNELS),
        _f("type", "choice", choices=vocab.TICKET_TYPES),
        _f("priority", "choice", choices=vocab.PRIORITIES),
        _f("group", "choice", choices=vocab.GROUPS),
        _f("status", "choice", choices=vocab.STATUSES),
        _f("resolution", "text"),
        _f("billing_mode", "choice", choices=vocab.BILLING_MODES),
        _f("created_at", "datetime"),
        _f("reacted_at", "datetime"),
        _f("work_started_at", "datetime"),
        _f("resolved_at", "datetime"),
        _f("closed_at", "datetime"),
        _f("nodes", "ref", target="node", many=True),
        _f("assignees", "ref", target="specialist", many=True),
    ),
    "articles": (
        _f("external_id", "str", required=True, max_length=100),
        _f("title", "str", required=True, max_length=500),
        _f("body", "text", required=True),
        _f("group", "choice", choices=vocab.GROUPS),
        _f("tags", "list"),
        _f("created_at", "datetime"),
    ),
}


# --- mapping ------------------------------------------------------------------------------------


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


def parse_mapping(data: Any, *, entity: str, source: str = "mapping") -> Mapping:
    """Validate a mapping document (already JSON-decoded) for ``entity``; raise ImportFileError."""
    if not isinstance(data, dict):
        raise ImportFileError(f"{source}: must be a JSON object")
    if "columns" not in data and any(key in ENTITIES for key in data):
        if entity not in data:
            raise ImportFileError(f"{source}: has no section for {entity} (sections: {', '.join(sorted(data))})")
        data = data[entity]
        if not isinstance(data, dict):
            raise ImportFileError(f"{source}: section {entity} must be a JSON object")
    known = {spec.name: spec for spec in FIELDS[entity]}
    unknown_keys = set(data) - {"columns", "values", "defaults", "datetime_format", "timezone", "comment"}
    if unknown_keys:
        raise ImportFileError(f"{source}: unknown key(s) {', '.join(sorted(unknown_keys))}")

    def section(name: str) -> dict:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ImportFileError(f"{source}: {name} must be a JSON object")
        for key in value:
            if key not in known:
                raise ImportFileError(
                    f"{source}: {name}: unknown field {key!r} for {entity} (fields: {', '.join(known)})")
        return value

    columns, values, defaults = section("columns"), section("values"), section("defaults")
    for name, column in columns.items():
        if isinstance(column, dict) and known[name].kind == "json":
            if not all(isinstance(c, str) and c for c in column.values()):
                raise ImportFileError(f"{source}: columns.{name}: every attribute must name a column")
        elif not isinstance(column, str) or not column.strip():
            raise ImportFileError(f"{source}: columns.{name} must be a column name (a non-empty string)")
    for name, table in values.items():
        if not isinstance(table, dict):
            raise ImportFileError(f"{source}: values.{name} must be an object {{source value: our value}}")
    for name, default in defaults.items():
        spec = known[name]
        if spec.kind != "ref":
            try:
                convert_value(spec, default, Mapping())
            except ValueError as exc:
                raise ImportFileError(f"{source}: defaults.{name}: {exc}") from None
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


# --- reading files ------------------------------------------------------------------------------


@dataclass
class SourceRow:
    """One record of the source file: its row number (see docs) and its values by source column."""

    number: int
    values: dict[str, Any]


@dataclass
class SourceTable:
    columns: list[str]
    rows: list[SourceRow]
    #: Rows that could not even be parsed (e.g. invalid JSON, too many CSV values).
    errors: list[RowError]


def read_text(path: Path, encoding: str | None = "utf-8") -> str:
    """The decoded text of a (possibly gzipped) file; ``encoding=None``: UTF-8, else cp1251 (Russian Excel).

    Raises ImportFileError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read ({exc.strerror})") from None
    if path.suffix.lower() == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ImportFileError(f"{path}: not a valid gzip file ({exc})") from None
    if encoding is None:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            encoding = "cp1251"
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return raw.decode(codec)
    except LookupError:
        raise ImportFileError(f"{path}: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"{path}: not valid {encoding} text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "re-save it as UTF-8 or pass --encoding (e.g. cp1251)") from None


def file_format(path: Path) -> str:
    """csv, jsonl or json from the file name (a trailing .gz is ignored); raise ImportFileError."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in JSON_SUFFIXES:
        return "json"
    raise ImportFileError(f"{path}: unknown file type {suffix or '(no extension)'!r}; "
                          "expected .csv, .tsv, .jsonl, .ndjson or .json (optionally .gz)")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text: one of , ; tab |."""
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def read_source(path: str | Path, *, delimiter: str | None = None, encoding: str = "utf-8") -> SourceTable:
    """Read a CSV/JSONL/JSON file into rows keyed by source column; raise ImportFileError for the file."""
    path = Path(path)
    kind = file_format(path)
    text = read_text(path, encoding)
    if not text.strip():
        raise ImportFileError(f"{path}: file is empty")
    if kind == "csv":
        return _read_csv(path, text, delimiter)
    if kind == "jsonl":
        return _read_jsonl(path, text)
    return _read_json(path, text)


def _read_csv(path: Path, text: str, delimiter: str | None) -> SourceTable:
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1:
            raise ImportFileError(f"--delimiter: must be one character, got {delimiter!r}")
    else:
        delimiter = sniff_delimiter(text) if path.suffix.lower() != ".tsv" else "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ImportFileError(f"{path}:1: cannot parse the header ({exc})") from None
    columns = [name.strip() or f"column {i + 1}" for i, name in enumerate(header)]
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ImportFileError(f"{path}:1: duplicate column name(s) in the header: {', '.join(duplicates)}")
    rows: list[SourceRow] = []
    errors: list[RowError] = []
    start = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(str(path), start, None, f"cannot parse CSV ({exc})"))
            break
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(columns):
            extra = record[len(columns):]
            if any(cell.strip() for cell in extra):
                errors.append(RowError(str(path), number, None,
                                       f"row has {len(record)} values but the header has {len(columns)} columns "
                                       f"(delimiter {delimiter!r}; wrong delimiter or an unquoted value?)"))
                continue
        rows.append(SourceRow(number, {c: (record[i] if i < len(record) else "") for i, c in enumerate(columns)}))
    if not rows and not errors:
        raise ImportFileError(f"{path}: no data rows after the header")
    return SourceTable(columns, rows, errors)


def _read_jsonl(path: Path, text: str) -> SourceTable:
    rows: list[SourceRow] = []
    errors: list[RowError] = []
    columns: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(str(path), number, None, f"invalid JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(record, dict):
            errors.append(RowError(str(path), number, None, "each line must be a JSON object"))
            continue
        columns.update(dict.fromkeys(record))
        rows.append(SourceRow(number, record))
    return SourceTable(list(columns), rows, errors)


def _read_json(path: Path, text: str) -> SourceTable:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))
    if not isinstance(data, list):
        raise ImportFileError(f"{path}: a .json file must hold an array of objects")
    if not data:
        raise ImportFileError(f"{path}: file is empty (no records)")
    rows, errors, columns = [], [], {}
    for number, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            errors.append(RowError(str(path), number, None, "record must be a JSON object"))
            continue
        columns.update(dict.fromkeys(record))
        rows.append(SourceRow(number, record))
    return SourceTable(list(columns), rows, errors)


# --- value conversion ---------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def _map_value(spec: FieldSpec, value: Any, mapping: Mapping) -> Any:
    table = mapping.values.get(spec.name)
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
        return [v for v in value if not _is_empty(v)]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                loaded = json.loads(text)
            except json.JSONDecodeError:
                loaded = None
            if isinstance(loaded, list):
                return [v for v in loaded if not _is_empty(v)]
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


def convert_value(spec: FieldSpec, value: Any, mapping: Mapping) -> Any:
    """Convert one non-empty source value to our field's type; raise ValueError with a short reason.

    References (kind ``ref``) come back as a list of keys (strings) to resolve against the store.
    """
    if spec.kind == "ref":
        keys = [str(k).strip() for k in (_map_value(spec, v, mapping) for v in _split(value)) if not _is_empty(k)]
        if not spec.many and len(keys) > 1:
            raise ValueError(f"expected one {spec.target}, got {len(keys)}")
        return keys
    if spec.kind == "list":
        return [str(k).strip() for k in (_map_value(spec, v, mapping) for v in _split(value)) if not _is_empty(k)]
    value = _map_value(spec, value, mapping)
    kind = spec.kind
    if kind in ("str", "text", "email"):
        if isinstance(value, (dict, list)):
            raise ValueError("expected text, got a JSON " + ("object" if isinstance(value, dict) else "array"))
        text = str(value).strip() if kind != "text" else str(value)
        if spec.name == "country":
            if not re.fullmatch(r"[A-Za-z]{2}", text):
                raise ValueError(f"{text!r} is not a two-letter country code (e.g. RU)")
            return text.upper()
        if spec.max_length is not None and len(text) > spec.max_length:
            raise ValueError(f"too long: {len(text)} characters, at most {spec.max_length}")
        if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
            raise ValueError(f"{text!r} is not an e-mail address")
        return text.lower() if spec.name == "sla_policy" else text
    if kind == "int":
        number = _to_int(value)
        if spec.minimum is not None and number < spec.minimum or spec.maximum is not None and number > spec.maximum:
            raise ValueError(f"{number} is out of range {spec.minimum}..{spec.maximum}")
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        word = str(value).strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{value!r} is not a yes/no value (true/false, yes/no, да/нет, 1/0)")
    if kind == "choice":
        word = str(value).strip()
        normal = re.sub(r"[\s-]+", "_", word.casefold())
        if normal in spec.choices:
            return normal
        raise ValueError(f"{word!r} is not one of {', '.join(spec.choices)} "
                         f"(translate it under \"values\": {{\"{spec.name}\": {{...}}}} in the mapping)")
    if kind == "datetime":
        if isinstance(value, datetime):
            return value
        return parse_instant(value, mapping)
    if kind == "timezone":
        try:
            ZoneInfo(str(value).strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Moscow)") from None
        return str(value).strip()
    if kind == "json":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"invalid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        return value
    if kind == "skills":
        return _parse_skills(value)
    raise AssertionError(f"unknown field kind {kind}")


# --- reports ------------------------------------------------------------------------------------


@dataclass
class RowError:
    """One bad row: file, row number, source column (None for the whole row) and the reason."""

    file: str
    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"column {self.column}: " if self.column else ""
        return f"{self.file}:{self.row}: {where}{self.message}"


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a failed file, would have done)."""

    entity: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    skip_invalid: bool = False
    dry_run: bool = False

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def imported(self) -> bool:
        """True when rows were (or, for a dry run, would be) written."""
        return not self.errors or self.skip_invalid

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "file": self.file, "rows": self.rows, "created": self.created,
                "updated": self.updated, "rejected": self.rejected, "imported": self.imported,
                "dry_run": self.dry_run, "errors": [str(e) for e in self.errors]}


# --- rows to values -----------------------------------------------------------------------------


@dataclass
class ParsedRow:
    number: int
    values: dict[str, Any]
    #: our field -> the source column it came from (for messages).
    origin: dict[str, str]
    #: False once any problem was found; such rows are still checked further so all problems are listed.
    ok: bool = True


def _check_columns(entity: str, mapping: Mapping, table: SourceTable, path: Path) -> dict[str, Any]:
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


def parse_rows(entity: str, table: SourceTable, mapping: Mapping, path: Path) -> tuple[list[ParsedRow], list[RowError]]:
    """Convert and validate every row without touching the store (references stay unresolved keys).

    Rows with problems come back with ``ok`` False (and their errors in the list), so that their
    references can still be checked and every problem of a row reported at once.
    """
    plan = _check_columns(entity, mapping, table, path)
    parsed: list[ParsedRow] = []
    errors = list(table.errors)
    seen_ids: dict[str, int] = {}
    for row in table.rows:
        values: dict[str, Any] = {}
        origin: dict[str, str] = {}
        row_errors: list[RowError] = []
        for spec in FIELDS[entity]:
            column = plan.get(spec.name)
            if isinstance(column, dict):
                raw = {key: row.values.get(col) for key, col in column.items() if not _is_empty(row.values.get(col))}
                label = ", ".join(column.values())
            else:
                raw = row.values.get(column) if column is not None else None
                label = column or spec.name
            if not _is_empty(raw) and spec.kind not in ("ref", "list") and _is_empty(_map_value(spec, raw, mapping)):
                raw = None  # the mapping translates this source value to "no value" (e.g. Zammad's "-" owner)
            if _is_empty(raw) and spec.name in mapping.defaults:
                raw, label = mapping.defaults[spec.name], f"{column or spec.name} (default)"
            if _is_empty(raw):
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


# --- references ---------------------------------------------------------------------------------


class _Directory:
    """In-memory lookups of clients, specialists and nodes by external id and name (loaded once)."""

    def __init__(self, session: Session):
        self.session = session
        self.clients = list(session.scalars(select(Client)))
        self.specialists = list(session.scalars(select(Specialist)))
        self._nodes: list[Node] | None = None

    @property
    def nodes(self) -> list[Node]:
        if self._nodes is None:
            self._nodes = list(self.session.scalars(select(Node)))
        return self._nodes

    @staticmethod
    def _find(items: list, key: str, what: str):
        by_id = [i for i in items if i.external_id == key]
        if by_id:
            return by_id[0]
        by_name = [i for i in items if i.name == key] or [i for i in items if i.name.casefold() == key.casefold()]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise ValueError(f"{what} name {key!r} is ambiguous ({len(by_name)} match); use its external id")
        raise ValueError(f"no {what} with external id or name {key!r}")

    def client(self, key: str) -> Client:
        return self._find(self.clients, key, "client")

    def specialist(self, key: str) -> Specialist:
        return self._find(self.specialists, key, "specialist")

    def node(self, key: str, client_id: int | None) -> Node:
        by_id = [n for n in self.nodes if n.external_id == key]
        if by_id:
            return by_id[0]
        candidates = [n for n in self.nodes if client_id is None or n.client_id == client_id]
        by_name = [n for n in candidates if n.name == key] or [
            n for n in candidates if n.name.casefold() == key.casefold()]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise ValueError(f"node name {key!r} is ambiguous; use its external id")
        scope = " of this client" if client_id is not None else ""
        raise ValueError(f"no node{scope} with external id or name {key!r}")


def _resolve_refs(entity: str, rows: list[ParsedRow], directory: _Directory, path: Path) -> list[RowError]:
    """Replace reference keys by ids in place; return errors and drop the bad rows from ``rows``.

    Node references become ("db", node id) or, for nodes defined in the same file, ("file", external id).
    """
    errors: list[RowError] = []

    def fail(row: ParsedRow, name: str, message: str) -> None:
        errors.append(RowError(str(path), row.number, row.origin[name], message))

    # Pass 1: clients and specialists, so that every row knows its client before nodes are looked up.
    for row in rows:
        before = len(errors)
        for spec in FIELDS[entity]:
            if spec.kind != "ref" or spec.target == "node" or spec.name not in row.values:
                continue
            keys = row.values[spec.name]
            try:
                if spec.target == "client":
                    row.values[spec.name] = directory.client(keys[0]).id
                else:
                    ids = [directory.specialist(k).id for k in keys]
                    row.values[spec.name] = ids if spec.many else ids[0]
            except ValueError as exc:
                fail(row, spec.name, str(exc))
                row.values.pop(spec.name)
        row.ok = row.ok and len(errors) == before

    # Pass 2: nodes, by external id anywhere or by name within the row's client (file rows first).
    good = [r for r in rows if r.ok]
    by_id = {r.values["external_id"]: r for r in good} if entity == "nodes" else {}
    by_name = {(r.values["client"], r.values["name"]): r for r in good} if entity == "nodes" else {}
    for row in rows:
        before = len(errors)
        for spec in FIELDS[entity]:
            if spec.target != "node" or spec.name not in row.values:
                continue
            client_id = row.values.get("client")
            refs: list[tuple[str, Any]] = []
            for key in row.values[spec.name]:
                same_file = by_id.get(key) or by_name.get((client_id, key))
                if same_file is row:
                    fail(row, spec.name, "a node cannot depend on itself")
                elif same_file is not None:
                    refs.append(("file", same_file.values["external_id"]))
                else:
                    try:
                        refs.append(("db", directory.node(key, client_id).id))
                    except ValueError as exc:
                        fail(row, spec.name, str(exc))
            row.values[spec.name] = refs
        row.ok = row.ok and len(errors) == before
    rows[:] = [r for r in rows if r.ok]
    return errors


# --- writing ------------------------------------------------------------------------------------

MODELS = {"clients": Client, "nodes": Node, "specialists": Specialist, "tickets": Ticket, "articles": Article}
#: Fields that are not plain columns of the model.
SPECIAL = {"client", "field_engineer", "depends_on", "skills", "nodes", "assignees"}


def _existing(session: Session, model, external_ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start:start + 500]
        for obj in session.scalars(select(model).where(model.external_id.in_(chunk))):
            found[obj.external_id] = obj
    return found


def _check_node_names(rows: list[ParsedRow], existing: dict[str, Node], directory: _Directory,
                      path: Path) -> list[RowError]:
    """Node names are unique per client: catch clashes before the database does."""
    errors: list[RowError] = []
    taken = {(n.client_id, n.name): n.external_id for n in directory.nodes}
    claimed: dict[tuple[int, str], int] = {}
    good = []
    for row in rows:
        key = (row.values["client"], row.values["name"])
        owner = taken.get(key)
        if key in claimed:
            errors.append(RowError(str(path), row.number, row.origin["name"],
                                   f"node name {key[1]!r} appears twice for this client (first at row {claimed[key]})"))
        elif owner is not None and owner != row.values["external_id"]:
            errors.append(RowError(str(path), row.number, row.origin["name"],
                                   f"this client already has a node named {key[1]!r} with external id {owner!r}"))
        else:
            claimed[key] = row.number
            good.append(row)
    rows[:] = good
    return errors


def _apply(entity: str, obj: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name in SPECIAL:
            continue
        setattr(obj, name, value)
    if entity in ("nodes", "tickets") and "client" in values:
        obj.client_id = values["client"]
    if entity == "clients" and "field_engineer" in values:
        obj.field_engineer_id = values["field_engineer"]


def _write(session: Session, entity: str, rows: list[ParsedRow], existing: dict[str, Any]) -> tuple[int, int]:
    model = MODELS[entity]
    created = updated = 0
    objects: dict[str, Any] = {}
    for row in rows:
        values = row.values
        obj = existing.get(values["external_id"])
        if obj is None:
            obj = model(external_id=values["external_id"])
            session.add(obj)
            created += 1
        else:
            updated += 1
        _apply(entity, obj, values)
        objects[values["external_id"]] = (obj, row)
    session.flush()
    for obj, row in objects.values():
        values = row.values
        if entity == "specialists" and "skills" in values:
            wanted = values["skills"]
            for skill in list(obj.skills):
                if skill.group not in wanted:
                    obj.skills.remove(skill)
                else:
                    skill.level = wanted.pop(skill.group)
            obj.skills.extend(Skill(group=g, level=lvl) for g, lvl in wanted.items())
        if entity in ("nodes", "tickets"):
            link = "depends_on" if entity == "nodes" else "nodes"
            if link in values:
                ids = [objects[key][0].id if source == "file" else key for source, key in values[link]]
                setattr(obj, link, list(session.scalars(select(Node).where(Node.id.in_(ids)))) if ids else [])
        if entity == "tickets" and "assignees" in values:
            _set_assignees(obj, values["assignees"])
    session.flush()
    return created, updated


def _set_assignees(ticket: Ticket, specialist_ids: list[int]) -> None:
    order = list(dict.fromkeys(specialist_ids))
    for assignment in list(ticket.assignees):
        if assignment.specialist_id not in order:
            ticket.assignees.remove(assignment)
    current = {a.specialist_id: a for a in ticket.assignees}
    for index, specialist_id in enumerate(order):
        role = "primary" if index == 0 else "helper"
        if specialist_id in current:
            current[specialist_id].role = role
        else:
            assigned_at = ticket.created_at if ticket.created_at is not None else None
            assignment = Assignment(specialist_id=specialist_id, role=role)
            if assigned_at is not None:
                assignment.assigned_at = assigned_at
            ticket.assignees.append(assignment)


# --- entry point --------------------------------------------------------------------------------


def import_file(session: Session, *, entity: str, path: str | Path, mapping: Mapping | None = None,
                skip_invalid: bool = False, dry_run: bool = False, actor: str = "import",
                delimiter: str | None = None, encoding: str = "utf-8") -> ImportReport:
    """Validate every row of ``path`` and upsert the valid ones by external_id (flush, no commit).

    With bad rows and ``skip_invalid`` False nothing is written and the report lists every error.
    ``dry_run`` validates and counts without writing. Raises ImportFileError for file-level problems.
    """
    if entity not in ENTITIES:
        raise ImportFileError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    path = Path(path)
    mapping = mapping or Mapping()
    table = read_source(path, delimiter=delimiter, encoding=encoding)
    report = ImportReport(entity=entity, file=str(path), rows=len(table.rows) + len(table.errors),
                          skip_invalid=skip_invalid, dry_run=dry_run)
    rows, errors = parse_rows(entity, table, mapping, path)
    directory = _Directory(session)
    errors.extend(_resolve_refs(entity, rows, directory, path))
    existing = _existing(session, MODELS[entity], [r.values["external_id"] for r in rows])
    if entity == "nodes":
        errors.extend(_check_node_names(rows, existing, directory, path))
        # A dependency may point at a row rejected above; drop dependants until none is left dangling.
        while True:
            valid = {r.values["external_id"] for r in rows}
            broken = [r for r in rows if any(src == "file" and key not in valid
                                             for src, key in r.values.get("depends_on", []))]
            if not broken:
                break
            for r in broken:
                errors.append(RowError(str(path), r.number, r.origin["depends_on"],
                                       "depends on a node whose row was rejected"))
            rows[:] = [r for r in rows if r not in broken]
    report.errors = sorted(errors, key=lambda e: e.row)
    if errors and not skip_invalid:
        return report
    report.created = sum(1 for r in rows if r.values["external_id"] not in existing)
    report.updated = len(rows) - report.created
    if dry_run:
        return report
    _write(session, entity, rows, existing)
    session.add(AuditEvent(
        entity="import", entity_id=0, action=f"import_{entity}", actor=actor,
        data={"file": str(path), "rows": report.rows, "created": report.created, "updated": report.updated,
              "rejected": report.rejected, "errors": [str(e) for e in report.errors[:AUDIT_ERROR_LIMIT]]}))
    session.flush()
    return report
