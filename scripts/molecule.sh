#!/usr/bin/env bash
# Run every molecule scenario under molecule/ (delegated driver on localhost;
# `make molecule` builds the offline images first).
# Each scenario's output is kept; the run ends with a recap that names the
# failed scenarios and repeats their failing lines, because CI shows only the
# tail of a long log.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
failed=()
for scenario in molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$scenario")")
    echo "=== molecule scenario: $name"
    started=$SECONDS
    if ! ANSIBLE_FORCE_COLOR=0 molecule test -s "$name" 2>&1 | tee "$logs/$name.log"; then
        failed+=("$name")
    fi
    echo "=== molecule scenario: $name took $((SECONDS - started)) s"
done
echo "=== molecule recap: ${#failed[@]} failed"
for name in "${failed[@]}"; do
    echo "=== molecule scenario $name failed; its failing lines and last lines:"
    # An expected failure (a negative test) also prints fatal: keep its context short.
    grep -nE -B2 -A3 '^(fatal|failed):|ERROR|CRITICAL|\.\.\.ignoring' "$logs/$name.log" | tail -n 80 || true
    tail -n 40 "$logs/$name.log"
done
rm -rf "$logs"
[ ${#failed[@]} -eq 0 ]
