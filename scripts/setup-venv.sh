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

# sslyze (the edge's TLS test) needs an older cryptography than community.crypto
# works with: it gets a venv of its own, .venv-sslyze.
sslyze_venv=.venv-sslyze
sslyze_stamp=$sslyze_venv/.requirements.sha256
sslyze_want=$(sha256sum requirements/sslyze.txt | cut -d' ' -f1)
if [ "$(cat $sslyze_stamp 2>/dev/null)" != "$sslyze_want" ]; then
    echo "setup-venv: installing requirements/sslyze.txt into $sslyze_venv"
    [ -x $sslyze_venv/bin/python ] || python3 -m venv $sslyze_venv
    $sslyze_venv/bin/pip install -q -r requirements/sslyze.txt 2> >(grep -v 'is ignored: it is neither' >&2)
    echo "$sslyze_want" >$sslyze_stamp
fi

# moto's S3 server (the S3 backup test) needs about 60 packages of its own:
# .venv-moto keeps them out of .venv.
moto_venv=.venv-moto
moto_stamp=$moto_venv/.requirements.sha256
moto_want=$(sha256sum requirements/moto.txt | cut -d' ' -f1)
if [ "$(cat $moto_stamp 2>/dev/null)" != "$moto_want" ]; then
    echo "setup-venv: installing requirements/moto.txt into $moto_venv"
    [ -x $moto_venv/bin/python ] || python3 -m venv $moto_venv
    $moto_venv/bin/pip install -q -r requirements/moto.txt 2> >(grep -v 'is ignored: it is neither' >&2)
    echo "$moto_want" >$moto_stamp
fi

# ansible.cfg's collections_path points at .collections: link the checkout in
# as ansible_collections/auraspeak/ops so FQCNs resolve without installing.
mkdir -p .collections/ansible_collections/auraspeak
ln -sfn ../../.. .collections/ansible_collections/auraspeak/ops
