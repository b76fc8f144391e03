"""``precedent import``: load clients, nodes, specialists, tickets or articles from CSV / JSON Lines exports."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from kb.importers import ENTITIES, ImportFileError
from service.cli.common import echo_json, fail, store_session
from service.directory.imports import import_export


@click.command("import")
@click.argument("entity", type=click.Choice(ENTITIES))
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--mapping", "mapping_path", type=click.Path(dir_okay=False, path_type=str),
              help="Mapping JSON: source columns and values onto ours (see docs/importers.md).")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and list the rejected ones.")
@click.option("--dry-run", is_flag=True, help="Validate and count, write nothing.")
@click.option("--delimiter", default=None, help="CSV delimiter (default: sniffed from the file; 'tab' for a tab).")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of FILE (e.g. cp1251).")
@click.option("--actor", default="import", show_default=True, help="Who is recorded in the audit event.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_command(entity: str, file: str, mapping_path: str | None, skip_invalid: bool, dry_run: bool,
                   delimiter: str | None, encoding: str, actor: str, as_json: bool) -> None:
    """Import ENTITY rows from FILE (.csv, .tsv, .jsonl, .ndjson or .json, optionally .gz).

    Rows are upserted by external_id, so importing the same file again updates instead of duplicating.
    A file with bad rows imports nothing (exit 2) unless --skip-invalid is given.
    """
    with store_session() as session:
        try:
            report = import_export(session, entity=entity, path=file, mapping_path=mapping_path,
                                   skip_invalid=skip_invalid, dry_run=dry_run, actor=actor, delimiter=delimiter,
                                   encoding=encoding)
        except ImportFileError as exc:
            fail(str(exc))
        except SQLAlchemyError as exc:
            fail(f"{file}: the database refused the import, nothing was written ({exc.__class__.__name__}: "
                 f"{str(getattr(exc, 'orig', exc)).splitlines()[0]})")

    if as_json:
        echo_json(report.as_dict())
    for error in report.errors:
        click.echo(error, err=True)
    if not as_json:
        verb = "would import" if dry_run else "imported"
        if report.imported:
            rejected = f", {report.rejected} rejected" if report.errors else ""
            click.echo(f"{entity} {verb} from {file}: {report.created} created, {report.updated} updated{rejected}")
    if not report.imported:
        click.echo(f"error: {file}: {report.rejected} bad row(s) of {report.rows}; nothing imported "
                   "(fix them, or pass --skip-invalid to import the valid rows)", err=True)
        raise SystemExit(2)
