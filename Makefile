.PHONY: install up down test run

# Installs promptopt with its test extras.
install:
	pip install -e '.[test]'

# Starts (installing when missing) Kafka, PostgreSQL and a MongoDB-wire server on loopback; see infra/README.md.
up:
	bash infra/up.sh

down:
	bash infra/down.sh

test: install up
	python -m pytest -q

run:
	promptopt run examples/sentiment.yaml
