# The two commands of the README. Both work on a fresh clone: they create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo demo-alert test install lint clean-demo notebooks notebooks-html

#: The webhook secret of the local demo (`make demo` serves with it, `make demo-alert` posts with it).
DEMO_ALERT_TOKEN ?= demo-alert-token

# torch==2.13.0 (the CPU wheel on local disk) is installed explicitly and first, so that nothing
# later resolves a multi-GB CUDA build; the young single-author embedder is pinned by hash.
$(STAMP): pyproject.toml $(wildcard requirements/*.txt)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	for pins in $(wildcard requirements/*.txt); do \
		$(BIN)/python -m pip install -q --no-deps --require-hashes -r "$$pins" || exit 1; done
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Build the demo knowledge base, SLA state, search index and models, then serve on http://127.0.0.1:8000
demo: install
	$(BIN)/precedent db upgrade  # also creates var/secret_key, the random session key, once
	$(BIN)/precedent demo build --replace
	$(BIN)/precedent sla check --now 2026-11-20T15:00:00+00:00  # the demo history ends then: a stable snapshot with met, at-risk and breached tickets
	$(BIN)/precedent index build
	$(BIN)/precedent train all --publish
	PRECEDENT_ALERTMANAGER_TOKEN=$${PRECEDENT_ALERTMANAGER_TOKEN:-$(DEMO_ALERT_TOKEN)} $(BIN)/precedent serve

## With `make demo` running, in a second terminal: a disk-filling alert becomes an incident (prints its page)
demo-alert:
	PRECEDENT_ALERTMANAGER_TOKEN=$${PRECEDENT_ALERTMANAGER_TOKEN:-$(DEMO_ALERT_TOKEN)} $(BIN)/precedent demo alert

## Run the whole test suite (SQLite and PostgreSQL)
test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .

## JupyterLab on the project's environment, opened on notebooks/ (docs/notebooks.md)
notebooks: install
	$(BIN)/python -m pip install -q -e ".[dev,notebooks]"
	$(BIN)/jupyter lab --notebook-dir notebooks

## Execute the notebooks on the demo store and write docs/notebooks/*.html (run `make demo` first)
notebooks-html: install
	$(BIN)/python notebooks/render.py --out docs/notebooks --now 2026-11-20T15:00:00+00:00
