.PHONY: install up down test run unit integration bench lint

PYTHON ?= python
# Re-install only when the dependencies change (the stamp lives with the other local state).
STAMP := .infra/installed.stamp

$(STAMP): pyproject.toml
	$(PYTHON) -m pip install -e '.[test]'
	mkdir -p .infra && touch $(STAMP)

install: $(STAMP)

# Optimizes the example on the embedded runtime: no servers.
run: install
	promptopt run examples/sentiment.yaml

# Starts (installing when missing) Kafka, PostgreSQL and a MongoDB-wire server on loopback; see infra/README.md.
up:
	bash infra/up.sh

down:
	bash infra/down.sh

# Unit tests first: they need no server, and they give the new topics time to settle.
test: install up
	$(PYTHON) -m pytest -q tests/unit tests/integration

unit: install
	$(PYTHON) -m pytest -q tests/unit

integration: install up
	$(PYTHON) -m pytest -q tests/integration

lint:
	$(PYTHON) -m ruff check .
