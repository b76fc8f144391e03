"""The ``precedent`` command line. Each topic lives in its own module and registers one command here."""

from __future__ import annotations

import click

from service.cli.bill import bill
from service.cli.db import db
from service.cli.demo import demo
from service.cli.evaluate import evaluate
from service.cli.importer import import_command
from service.cli.search import index, suggest
from service.cli.serve import serve
from service.cli.sla import sla
from service.cli.tickets import intake, tickets
from service.cli.train import models, train
from service.cli.users import users


@click.group()
def main() -> None:
    """Precedent: knowledge base and solution recommender of a service desk."""


main.add_command(db)
main.add_command(serve)
main.add_command(evaluate)
main.add_command(users)
main.add_command(bill)
main.add_command(import_command)
main.add_command(train)
main.add_command(models)
main.add_command(suggest)
main.add_command(index)
main.add_command(sla)
main.add_command(tickets)
main.add_command(intake)
main.add_command(demo)
