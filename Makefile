# The two commands of the README, and their tiers.
.PHONY: setup demo test test-slow test-cluster test-all bench lint

setup:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh fast

test-slow:
	bash scripts/test.sh slow
	bash scripts/test.sh cluster

test-cluster:
	bash scripts/test.sh cluster

test-all:
	bash scripts/test.sh all

lint:
	.venv/bin/ruff check .
