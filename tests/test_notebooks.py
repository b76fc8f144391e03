"""The analysts' notebooks run headless, top to bottom, on a small demo knowledge base (papermill, a kernel
of this environment), with the parameters CI gives them; committed notebooks carry no outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
NOW = "2026-11-20T15:00:00+00:00"
CELL_TIMEOUT_S = 180


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_the_three_notebooks_exist():
    assert [p.name for p in ALL] == ["01_explore_history.ipynb", "02_retrain_triage.ipynb",
                                     "03_search_quality.ipynb"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_a_parameter_cell(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "clear the outputs"
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), "the first code cell holds the parameters"
    assert "DATABASE_URL" in "".join(code[0]["source"])


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """A 300-ticket demo store with SLA state, a search index and published models."""
    var = tmp_path_factory.mktemp("notebooks") / "var"
    url = f"sqlite:///{var.parent / 'demo.sqlite3'}"
    env = {"PRECEDENT_VAR_DIR": str(var), "PRECEDENT_DATABASE_URL": url}
    runner = CliRunner()
    for command in (["demo", "build", "--tickets", "300"], ["sla", "check", "--now", NOW], ["index", "build"],
                    ["train", "all", "--publish"]):
        result = runner.invoke(main, command, env=env)
        assert result.exit_code == 0, (command, result.output)
    return env


def _outputs(notebook) -> str:
    return "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                     for c in notebook["cells"] for o in c.get("outputs", []))


def _run(name: str, env: dict, tmp_path: Path, monkeypatch, **parameters):
    import papermill

    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the kernel inherits them: load_settings() reads the demo store
    return papermill.execute_notebook(str(NOTEBOOKS / name), str(tmp_path / name), kernel_name="python3",
                                      cwd=str(NOTEBOOKS.parent), parameters=parameters,
                                      execution_timeout=CELL_TIMEOUT_S, progress_bar=False)


def test_explore_history(demo_store, tmp_path, monkeypatch):
    notebook = _run("01_explore_history.ipynb", demo_store, tmp_path, monkeypatch, NOW=NOW)
    images = sum("image/png" in o.get("data", {}) for c in notebook["cells"] for o in c.get("outputs", []))
    assert images >= 7  # four volume charts, SLA shares, resolution times, breaches/penalties, load
    assert "300 tickets" in _outputs(notebook)


def test_retrain_triage_compares_on_one_split_and_publishes_by_the_rule(demo_store, tmp_path, monkeypatch):
    from ml import registry

    models = Path(demo_store["PRECEDENT_VAR_DIR"]) / "models"
    before = {name: registry.published_version(models, name) for name in ("routing", "priority")}
    notebook = _run("02_retrain_triage.ipynb", demo_store, tmp_path, monkeypatch, SAMPLE_SIZE=200,
                    PUBLISH=True, MIN_MACRO_F1_GAIN=1.0)  # a gain no candidate can reach: nothing published
    text = _outputs(notebook)
    assert "published 2" in text and "macro-F1 gain below" in text
    assert {name: registry.published_version(models, name) for name in before} == before
    assert len(registry.list_models(models, "routing")) == 2  # the candidate is saved, not published


def test_search_quality_sweeps_and_saves_through_search_tune(demo_store, tmp_path, monkeypatch):
    from service.config import load_settings
    from service.search.tuning import read_tuning

    settings = load_settings(demo_store)
    assert read_tuning(settings, "incident") is None
    notebook = _run("03_search_quality.ipynb", demo_store, tmp_path, monkeypatch, SAMPLE_SIZE=40,
                    KINDS=["incident", "known_problem"], SAVE=True)
    text = _outputs(notebook)
    assert "recall@10" in text and "gibberish_answered" in text and "current" in text
    stored = read_tuning(settings, "incident")
    assert stored is not None and stored["version"] == 1  # saved by tune_search, as `precedent search tune`
