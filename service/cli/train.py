"""``precedent train`` and ``precedent models``: fit, list and publish the triage models."""

from __future__ import annotations

import click

from service.cli.common import echo_json, fail, settings


def _version_row(item) -> dict:
    metrics = item.manifest.get("metrics", {})
    return {
        "name": item.name, "version": item.version, "published": item.published,
        "created_at": item.manifest.get("created_at"), "rows": item.manifest.get("row_count"),
        "accuracy": metrics.get("accuracy"), "macro_f1": metrics.get("macro_f1"),
        "coverage_at_90_precision": metrics.get("coverage_at_90_precision"),
        "format": item.manifest.get("format"),
    }


@click.command()
@click.argument("which", type=click.Choice(["routing", "priority", "all"]), default="all")
@click.option("--publish", is_flag=True, help="Publish each new version right away.")
def train(which: str, publish: bool) -> None:
    """Train the routing (group) and/or priority model from the knowledge store."""
    from kb.db import make_engine, make_session_factory
    from ml import registry
    from ml.classify import STACK_BASES
    from ml.training import MODEL_NAMES, train_model
    from service.triage.training_data import tickets_from_store

    config = settings()
    unknown = [b for b in config.triage_stack_bases if b not in STACK_BASES]
    if unknown or not config.triage_stack_bases:
        fail(f"PRECEDENT_TRIAGE_STACK_BASES: unknown base(s) {', '.join(unknown) or '(none given)'}; "
             f"choose from {', '.join(STACK_BASES)}")
    engine = make_engine(config.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            data = tickets_from_store(session)
    finally:
        engine.dispose()
    names = MODEL_NAMES if which == "all" else (which,)
    results = []
    for name in names:
        signals, labels, weights = data.for_model(name)
        try:
            trained = train_model(name, signals, labels, weights, bases=config.triage_stack_bases,
                                  pipeline=config.triage_pipeline,
                                  source=config.resolved_database_url.split("://")[0])
        except ValueError as exc:
            fail(f"{name}: {exc} (load or generate tickets first: precedent demo build / precedent import)")
        saved = registry.save_model(config.models_dir, name, trained.estimator, trained.manifest)
        if publish:
            saved = registry.publish(config.models_dir, name, saved.version)
        results.append(_version_row(saved) | {"path": str(saved.path)})
    echo_json({"trained": results})


@click.group()
def models() -> None:
    """Saved model versions."""


@models.command("list")
@click.option("--name", type=click.Choice(["routing", "priority"]), default=None, help="Only this model.")
def list_command(name: str | None) -> None:
    """Every saved version with its held-out metrics; the published one is marked."""
    from ml import registry

    try:
        items = registry.list_models(settings().models_dir, name)
    except registry.ModelError as exc:
        fail(str(exc))
    echo_json({"models": [_version_row(item) for item in items]})


@models.command("publish")
@click.argument("name")
@click.argument("version")
def publish_command(name: str, version: str) -> None:
    """Make VERSION of model NAME the one the service uses (it reloads without a restart)."""
    from ml import registry

    try:
        item = registry.publish(settings().models_dir, name, version)
    except registry.ModelError as exc:
        fail(str(exc))
    echo_json({"published": _version_row(item)})


@models.command("show")
@click.argument("name", type=click.Choice(["routing", "priority"]))
@click.argument("version", required=False)
def show_command(name: str, version: str | None) -> None:
    """How VERSION (default: the published one, else the newest) was chosen: every candidate's cross-validated
    scores, the winner, the calibration and the thresholds."""
    from ml import registry

    models_dir = settings().models_dir
    try:
        if version is None:
            version = registry.published_version(models_dir, name)
        if version is None:
            items = registry.list_models(models_dir, name)
            if not items:
                fail(f"no saved {name} model under {models_dir} (precedent train {name})")
            version = items[-1].version
        manifest = registry.read_manifest(models_dir, name, version)
    except registry.ModelError as exc:
        fail(str(exc))
    echo_json({"name": name, "version": version, "pipeline": manifest.get("pipeline"),
               "selection": manifest.get("selection"), "final_calibration": manifest.get("final_calibration"),
               "metrics": manifest.get("metrics"),
               "thresholds": manifest.get("thresholds")})
