"""Importers: load clients, nodes, specialists, tickets and articles from CSV or JSON Lines exports.

A file is read whole, every row is validated (types, vocabularies, lengths, references) before anything is
written, and rows are upserted by ``external_id``, so importing the same file again updates and never
duplicates. A file with bad rows imports nothing unless ``skip_invalid`` is set. Every problem with a row is
reported as ``FILE:ROW: column X: what is wrong`` where X is the column name of the source file; problems with
the file itself (missing, empty, undecodable, bad mapping) raise :class:`ImportFileError` with one line.
See docs/importers.md for the formats and the mapping file.

One module per stage, each importing only the ones before it:

- ``report``: ImportFileError, RowError, ImportReport.
- ``sources``: reading CSV / JSON Lines / JSON files (gzip, encodings, delimiter sniffing).
- ``fields``: our fields per entity (FIELDS) and ``convert_value``, one converter per kind.
- ``mapping``: ``Mapping`` (columns, value tables, defaults), ``parse_mapping`` and ``load_mapping``.
- ``rows``: source rows to validated field values, without the store.
- ``references``: references resolved against the store and the file itself.
- ``writing``: ``import_file``, the upsert of the valid rows, all or nothing.
"""

from kb.importers.fields import ENTITIES, FIELDS, FieldSpec, convert_value
from kb.importers.mapping import Mapping, load_mapping, parse_mapping
from kb.importers.report import ImportFileError, ImportReport, RowError
from kb.importers.sources import read_source, read_text, sniff_delimiter
from kb.importers.writing import import_file

__all__ = [
    "ENTITIES",
    "FIELDS",
    "FieldSpec",
    "ImportFileError",
    "ImportReport",
    "Mapping",
    "RowError",
    "convert_value",
    "import_file",
    "load_mapping",
    "parse_mapping",
    "read_source",
    "read_text",
    "sniff_delimiter",
]
