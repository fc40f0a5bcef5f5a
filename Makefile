# auraspeak.ops — run `make help` for the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Tests find the collection through the checkout link made by setup.
export PYTHONPATH := $(CURDIR)/.collections

.PHONY: help setup images demo test lint ruff ansible-lint sanity unit integration molecule bench changelog lock ee-context clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: ## Install everything this project needs (engine, compose, buildx, .venv); idempotent
	scripts/setup.sh

images: setup ## Build the offline base and service images (playbooks/local_images.yml)
	ansible-playbook playbooks/local_images.yml

demo: images ## Set up, build the offline images, deploy the whole stack to this machine
	ansible-playbook playbooks/site.yml
	@echo
	@echo "The example app answers at https://localhost:8443/version (through the edge; its CA: /etc/auraspeak/tls/ca.crt),"
	@echo "and http://localhost:8080 redirects there."
	@echo "Ledger: /var/lib/auraspeak/auraspeak/releases.json; project: /etc/auraspeak/auraspeak/."
	@echo "Backups: /var/backups/auraspeak/auraspeak (auraspeak-backup --project auraspeak status; docs/backup.md)."
	@echo "Monitoring: Prometheus http://127.0.0.1:9090, Alertmanager http://127.0.0.1:9093 (docs/monitoring.md)."

test: setup lint unit sanity images integration molecule ## Everything CI runs

lint: setup ruff ansible-lint ## ruff, ansible-lint and the changelog fragments
	antsibull-changelog lint

ruff:
	ruff check .
	ruff format --check .

ansible-lint:
	ansible-lint

sanity: setup ## ansible-test sanity on a temporary ansible_collections tree
	scripts/sanity.sh

unit: setup ## Unit tests: pytest (pure logic) and the example app's node tests
	pytest -q tests/unit
	cd examples/app && node --test --test-reporter=dot

integration: setup images ## pytest integration tests against the real Docker engine
	pytest -q -n 2 --dist loadfile --durations=15 tests/integration --ignore tests/integration/test_release_analysis.py
	# The release analysis judges latency under load: alone, like a benchmark, so the
	# other worker's tests neither skew its verdicts nor are slowed past their timeouts.
	pytest -q --durations=5 tests/integration/test_release_analysis.py

molecule: setup images ## molecule scenarios (delegated driver, localhost)
	scripts/molecule.sh

bench: setup images ## benchmarks quoted in README (bench/README.md)
	bench/run.sh

changelog: setup ## Check the fragments and regenerate CHANGELOG.md
	scripts/changelog.sh

lock: ## Re-pin requirements/dev.txt from requirements/dev.in
	python3 -m venv /tmp/auraspeak-lock && /tmp/auraspeak-lock/bin/pip install -q -r requirements/dev.in
	{ echo '# Pinned by `make lock` from requirements/dev.in (Python 3.11). Do not edit by hand.'; \
	  /tmp/auraspeak-lock/bin/pip freeze; } > requirements/dev.txt
	rm -rf /tmp/auraspeak-lock

ee-context: setup ## The execution environment's build context in ee/context (docs/awx.md)
	rm -rf ee/dist ee/context && mkdir -p ee/dist
	ansible-galaxy collection build --force --output-path ee/dist .
	mv ee/dist/auraspeak-ops-*.tar.gz ee/dist/auraspeak-ops.tar.gz
	ansible-builder create -f ee/execution-environment.yml --context ee/context

clean: ## Remove generated files (not images)
	rm -rf tests/output .pytest_cache .ruff_cache bench/results
