"""The analysts' notebook runs end to end on a small demo knowledge base (its code cells, in order)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from service.cli import main

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "triage_retrain.ipynb"


def test_retrain_notebook_runs_and_saves_candidates(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'nb.sqlite3'}"
    monkeypatch.setenv("PRECEDENT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["demo", "build", "--tickets", "400", "--no-contracts"])
    assert result.exit_code == 0, result.output
    cells = [c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    namespace: dict = {}
    for cell in cells:
        exec(compile("".join(cell["source"]), f"{NOTEBOOK.name}", "exec"), namespace)  # noqa: S102
    assert set(namespace["saved"]) == {"routing", "priority"}
    assert list(namespace["comparison"]["model"]) == ["routing", "priority"]
    assert (tmp_path / "var" / "models" / "routing").is_dir()
