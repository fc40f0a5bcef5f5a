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

# Test tools whose dependencies clash with .venv's or would bloat it get a venv
# each, installed again only when their pinned requirements change.
side_venv() {
    local venv=$1 requirements=$2
    local stamp=$venv/.requirements.sha256
    local want
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "setup-venv: installing $requirements into $venv"
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        "$venv/bin/pip" install -q -r "$requirements" 2> >(grep -v 'is ignored: it is neither' >&2)
        echo "$want" >"$stamp"
    fi
}

# sslyze (the edge's TLS test) needs an older cryptography than community.crypto
# works with.
side_venv .venv-sslyze requirements/sslyze.txt
# moto's S3 server (the S3 backup test) brings about 60 packages of its own.
side_venv .venv-moto requirements/moto.txt

# ansible.cfg's collections_path points at .collections: link the checkout in
# as ansible_collections/auraspeak/ops so FQCNs resolve without installing.
mkdir -p .collections/ansible_collections/auraspeak
ln -sfn ../../.. .collections/ansible_collections/auraspeak/ops
