.PHONY: install up down test run unit integration e2e bench lint types faults

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

# Lint and types first (seconds), then unit tests: they need no server, and they give the new
# topics time to settle. Browser tests last (tests/e2e: Debian's chromium, screenshots in
# .artifacts/).
# The quick fault benchmark last: a stack of its own (servers on free ports, state under
# .infra/stacks/faults, stopped at the end); it fails when a trial is lost, counted twice or
# wrongly dead-lettered (about 5 minutes).
test: install up lint types
	$(PYTHON) -m pytest -q tests/unit tests/integration tests/e2e
	$(PYTHON) -m benchmarks.faults --quick

faults: install
	$(PYTHON) -m benchmarks.faults --quick

unit: install
	$(PYTHON) -m pytest -q tests/unit

integration: install up
	$(PYTHON) -m pytest -q tests/integration

e2e: install up
	$(PYTHON) -m pytest -q tests/e2e

lint: install
	$(PYTHON) -m ruff check .

# Configuration in pyproject.toml ([tool.mypy]).
types: install
	$(PYTHON) -m mypy agents schemas topics api promptopt benchmarks
