"""The ``precedent`` command line. Each topic lives in its own module and registers one command here."""

from __future__ import annotations

import click

from service.cli.bill import bill
from service.cli.clients import clients
from service.cli.db import db
from service.cli.demo import demo
from service.cli.evaluate import evaluate
from service.cli.importer import import_command
from service.cli.partners import partners
from service.cli.search import index, search_group, suggest
from service.cli.serve import serve
from service.cli.sla import sla
from service.cli.tickets import intake, outbox, tickets
from service.cli.train import models, train
from service.cli.users import tokens, users


class _Main(click.Group):
    """The command group; a store that cannot be used becomes one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            from sqlalchemy.engine import make_url

            from service.cli.common import fail, settings

            detail = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
            where = make_url(settings().resolved_database_url).render_as_string(hide_password=True)
            if "no such table" in detail or "does not exist" in detail:
                fail(f"the database {where} is not initialised ({detail}): run `precedent db upgrade` first",
                     code=1)
            fail(f"database error at {where}: {detail}", code=1)


@click.group(cls=_Main)
def main() -> None:
    """Precedent: knowledge base and solution recommender of a service desk."""


main.add_command(db)
main.add_command(serve)
main.add_command(evaluate)
main.add_command(users)
main.add_command(tokens)
main.add_command(clients)
main.add_command(partners)
main.add_command(bill)
main.add_command(import_command)
main.add_command(train)
main.add_command(models)
main.add_command(suggest)
main.add_command(index)
main.add_command(search_group)
main.add_command(sla)
main.add_command(tickets)
main.add_command(intake)
main.add_command(outbox)
main.add_command(demo)
