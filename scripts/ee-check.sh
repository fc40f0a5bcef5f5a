#!/usr/bin/env bash
# Check an execution environment image built by `make ee-image` (docs/awx.md): ansible-core
# 2.19 and ansible-runner answer, the collection and the ones it depends on are installed,
# the collection's documentation and every playbook resolve by name, and none of the CAs this
# host adds to its trust store (/usr/local/share/ca-certificates: the proxy's among them) is
# in the image, neither in its CA bundle nor anywhere in its layers.
# Runs only `docker run --rm` and `docker image save` of the image it is given.
set -euo pipefail

image=${1:?usage: scripts/ee-check.sh IMAGE}
work=$(mktemp -d /tmp/auraspeak-ee-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
in_image() { docker run --rm "$image" "$@"; }
fail() { printf 'ee-check: FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ee-check: ok: %s\n' "$*"; }

version=$(in_image ansible --version | head -n1)
[[ $version == *"[core 2.19."* ]] || fail "ansible --version says: $version"
ok "$version"
ok "ansible-runner $(in_image ansible-runner --version)"

in_image ansible-galaxy collection list >"$work/collections" 2>/dev/null
for name in auraspeak.ops community.docker community.crypto ansible.posix; do
    line=$(grep -E "^$name " "$work/collections") || fail "collection $name is not in the image"
    ok "collection $(echo "$line" | tr -s ' ')"
done

in_image ansible-doc auraspeak.ops.compose_deploy >"$work/doc" || fail "ansible-doc auraspeak.ops.compose_deploy"
ok "ansible-doc auraspeak.ops.compose_deploy ($(wc -l <"$work/doc") lines)"

# Every playbook of the installed collection, by name, with an inventory that has the app group.
in_image sh -ec '
    printf "all:\n  children:\n    app:\n      hosts:\n        localhost:\n" >/tmp/hosts.yml
    for file in /usr/share/ansible/collections/ansible_collections/auraspeak/ops/playbooks/*.yml; do
        name=$(basename "$file" .yml)
        ansible-playbook --syntax-check -i /tmp/hosts.yml "auraspeak.ops.$name" >/dev/null
        echo "syntax-check auraspeak.ops.$name"
    done' | sed 's/^/ee-check: ok: /'

# The host's own CAs: none may be in the image's bundle (compared by SHA-256 fingerprint of
# each certificate) nor in any layer (a line of each CA's PEM searched in `docker image save`).
shopt -s nullglob
host_cas=(/usr/local/share/ca-certificates/*.crt)
if [ ${#host_cas[@]} -eq 0 ]; then
    ok "this host adds no CA of its own: nothing to look for"
    exit 0
fi
in_image cat /etc/ssl/certs/ca-certificates.crt >"$work/bundle.pem" 2>/dev/null || : >"$work/bundle.pem"
fingerprints() {
    python3 -c '
import hashlib, re, ssl, sys
for path in sys.argv[1:]:
    text = open(path, encoding="ascii", errors="replace").read()
    for block in re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S):
        print(hashlib.sha256(ssl.PEM_cert_to_DER_cert(block)).hexdigest(), path)' "$@"
}
fingerprints "$work/bundle.pem" | cut -d' ' -f1 | sort -u >"$work/image.fp"
fingerprints "${host_cas[@]}" >"$work/host.fp"
if found=$(grep -F -f "$work/image.fp" "$work/host.fp"); then
    fail "the image's CA bundle holds this host's CA: $found"
fi
ok "none of the ${#host_cas[@]} CAs of /usr/local/share/ca-certificates among the $(wc -l <"$work/image.fp") certificates of the image's /etc/ssl/certs/ca-certificates.crt"

mkdir "$work/layers"
docker image save "$image" | tar -x -C "$work/layers"
for ca in "${host_cas[@]}"; do
    needle=$(sed -n 3p "$ca")
    if grep -rlF -- "$needle" "$work/layers" >"$work/hits"; then
        fail "$ca is in the image's layers: $(cat "$work/hits")"
    fi
done
ok "no line of those CAs in any of the image's layers ($(du -sh "$work/layers" | cut -f1) saved)"
