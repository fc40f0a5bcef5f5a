#!/usr/bin/env bash
# Create .venv with the pinned tools and make the checkout importable as the
# collection auraspeak.ops. Re-running is cheap: pip runs only when
# requirements/dev.txt changed since the last successful install.
set -euo pipefail

cd "$(dirname "$0")/.."
venv=.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum requirements/dev.txt | cut -d' ' -f1)

if [ ! -x $venv/bin/python ]; then
    echo "setup-venv: creating $venv"
    python3 -m venv $venv
fi
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
    echo "setup-venv: installing requirements/dev.txt"
    # The machine's pip config names local indexes that may be absent: drop that noise.
    $venv/bin/pip install -q -r requirements/dev.txt 2> >(grep -v 'is ignored: it is neither' >&2)
    echo "$want" >$stamp
fi

# ansible.cfg's collections_path points at .collections: link the checkout in
# as ansible_collections/auraspeak/ops so FQCNs resolve without installing.
mkdir -p .collections/ansible_collections/auraspeak
ln -sfn ../../.. .collections/ansible_collections/auraspeak/ops
