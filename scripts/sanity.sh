#!/usr/bin/env bash
# Run `ansible-test sanity` on this checkout. ansible-test needs the collection
# at .../ansible_collections/auraspeak/ops, so the tracked files (and new,
# not ignored ones) are copied to a temporary tree first.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
python_version=3.11
work=$(mktemp -d /tmp/auraspeak-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/auraspeak/ops

# ansible-test fetches get-pip from a host these machines cannot reach; it
# accepts a cached script instead (see scripts/get-pip-offline.py).
ansible_test_dir=$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(grep -oE "pip='[0-9.]+'" "$ansible_test_dir/_internal/python_requirements.py" | head -n1 | cut -d"'" -f2)
mkdir -p ~/.ansible/test/cache
cp scripts/get-pip-offline.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

mkdir -p "$dest"
git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -C "$dest" -xf -
cd "$dest"
# Copy results back even when the run fails, so they can be read.
status=0
ansible-test sanity --venv --python "$python_version" --color no "$@" || status=$?
if [ -d tests/output ]; then
    mkdir -p "$root/tests/output"
    cp -r tests/output/. "$root/tests/output/"
fi
exit $status
