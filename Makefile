# auraspeak.ops — run `make help` for the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Tests find the collection through the checkout link made by setup.
export PYTHONPATH := $(CURDIR)/.collections

.PHONY: help setup images demo test lint ruff ansible-lint sanity unit integration molecule bench changelog lock ee-context ee-image ee-check clean

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

# Three workers on this project's 2-core machines: with two, a quarter of the CPU sat idle while
# tests waited on health checks, timers and the engine (README, "Tests").
INTEGRATION_WORKERS ?= 3

integration: setup images ## pytest integration tests against the real Docker engine
	pytest -q -n $(INTEGRATION_WORKERS) --dist loadfile --durations=15 tests/integration \
	  --ignore tests/integration/test_release_analysis.py
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

# The execution environment image built on this machine, from the offline Debian base
# (ee/execution-environment-offline.yml, docs/awx.md); tagged with the collection's version.
EE_VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
EE_IMAGE ?= auraspeak-ee-offline:$(EE_VERSION)
# e.g. EE_BUILD_OPTS=--no-cache: a build that takes nothing from earlier ones (fresh apt packages)
EE_BUILD_OPTS ?=
# The wheels the image's Python 3.11 (Debian bookworm, x86_64) installs, whatever the host's Python.
EE_WHEEL_TARGET := --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
	--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64

ee-image: setup ## Build the execution environment image here from the offline Debian base (docs/awx.md)
	@docker image inspect auraspeak-offline/debian:bookworm >/dev/null 2>&1 || \
	  { echo 'ee-image: no auraspeak-offline/debian:bookworm image: run `make images` first' >&2; exit 1; }
	rm -rf ee/dist ee/wheelhouse ee/context-offline && mkdir -p ee/dist ee/wheelhouse
	ansible-galaxy collection build --force --output-path ee/dist .
	mv ee/dist/auraspeak-ops-*.tar.gz ee/dist/auraspeak-ops.tar.gz
	# On the host, which trusts the network's proxy CA; the build containers install from here.
	pip download -q --dest ee/wheelhouse $(EE_WHEEL_TARGET) -r ee/offline/wheelhouse.txt \
	  2> >(grep -v 'is ignored: it is neither' >&2)
	ansible-builder build --container-runtime docker -f ee/execution-environment-offline.yml \
	  --context ee/context-offline -t $(EE_IMAGE) $(EE_BUILD_OPTS)
	@docker image ls --format '{{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}' $(EE_IMAGE)

ee-check: ## Check the image `make ee-image` built: ansible, collections, playbooks, no host CA (scripts/ee-check.sh)
	scripts/ee-check.sh $(EE_IMAGE)

clean: ## Remove generated files (not images)
	rm -rf tests/output .pytest_cache .ruff_cache bench/results
