"""Reading source files: CSV (delimiter sniffed), JSON Lines and JSON, plain or gzipped, in any encoding."""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.importers.report import ImportFileError, RowError

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)


@dataclass
class SourceRow:
    """One record of the source file: its row number (see docs) and its values by source column."""

    number: int
    values: dict[str, Any]


@dataclass
class SourceTable:
    """The records of a source file, its columns in order of appearance, and the records it could not parse."""

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


def _csv_delimiter(path: Path, text: str, delimiter: str | None) -> str:
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1:
            raise ImportFileError(f"--delimiter: must be one character, got {delimiter!r}")
        return delimiter
    return sniff_delimiter(text) if path.suffix.lower() != ".tsv" else "\t"


def _read_csv(path: Path, text: str, delimiter: str | None) -> SourceTable:
    delimiter = _csv_delimiter(path, text, delimiter)
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
        # A row's number is the line it starts on: a quoted multi-line cell moves the next start further.
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
    # Exports often wrap the array in one key ({"tickets": [...]}): take the array inside.
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
