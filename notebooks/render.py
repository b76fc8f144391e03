"""Execute every analysts' notebook on a knowledge store and write an HTML copy with its outputs.

    .venv/bin/python notebooks/render.py --out docs/notebooks [--now 2026-11-20T15:00:00+00:00]

The store is the configured one (PRECEDENT_DATABASE_URL / PRECEDENT_VAR_DIR; default the demo's var/), so
`make demo` first.  Parameters other than NOW keep each notebook's defaults; nothing is published.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

HERE = Path(__file__).resolve().parent


def render(out: Path, now: str | None) -> list[Path]:
    """Run each numbered notebook, save the executed copy as HTML under ``out``; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in sorted(HERE.glob("[0-9][0-9]_*.ipynb")):
        parameters = {"NOW": now} if now and "NOW =" in notebook.read_text(encoding="utf-8") else {}
        executed = out / notebook.name
        papermill.execute_notebook(str(notebook), str(executed), kernel_name="python3", cwd=str(HERE.parent),
                                   parameters=parameters, progress_bar=False)
        html, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
        target = out / f"{notebook.stem}.html"
        target.write_text(html, encoding="utf-8")
        executed.unlink()
        written.append(target)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "notebooks")
    parser.add_argument("--now", default=None, help="the instant the SLA clocks are read at (ISO 8601)")
    args = parser.parse_args()
    for path in render(args.out, args.now):
        print(path)
