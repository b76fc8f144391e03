"""Loading an export (clients, nodes, specialists, tickets, articles): the use case behind ``precedent import``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kb.importers import ImportReport, import_file, load_mapping
from service.platform.unit_of_work import unit_of_work


class _NothingToKeep(Exception):
    """Raised inside the unit of work to roll back a dry run or a file refused whole."""


def import_export(session: Session, *, entity: str, path: str, mapping_path: str | None, skip_invalid: bool,
                  dry_run: bool, actor: str, delimiter: str | None, encoding: str) -> ImportReport:
    """Import one file all-or-nothing in one commit; a dry run, or a file with no row imported, writes nothing.

    Raises kb.importers.ImportFileError for a file that cannot be read, SQLAlchemyError when the database
    refuses the rows; nothing is written then.
    """
    mapping = load_mapping(mapping_path, entity=entity) if mapping_path else None
    report = None
    try:
        with unit_of_work(session):
            report = import_file(session, entity=entity, path=path, mapping=mapping, skip_invalid=skip_invalid,
                                 dry_run=dry_run, actor=actor, delimiter=delimiter, encoding=encoding)
            if dry_run or not report.imported:
                raise _NothingToKeep
    except _NothingToKeep:
        pass
    return report
