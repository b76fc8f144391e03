"""``precedent evaluate``: quality of retrieval and classification on any labelled data set."""

from __future__ import annotations

import click


@click.group()
def evaluate() -> None:
    """Evaluate the production pipelines on a labelled data set; prints one JSON object."""
