#!/usr/bin/env bash
# Everything this project needs on a fresh machine; `make setup` runs it and
# `make demo` / `make test` run `make setup` first. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-host.sh
scripts/setup-venv.sh
