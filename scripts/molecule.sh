#!/usr/bin/env bash
# Run every molecule scenario under molecule/ (delegated driver on localhost;
# `make molecule` builds the offline images first).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for scenario in molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$scenario")")
    echo "=== molecule scenario: $name"
    started=$SECONDS
    ANSIBLE_FORCE_COLOR=0 molecule test -s "$name" || status=1
    echo "=== molecule scenario: $name took $((SECONDS - started)) s"
done
exit $status
