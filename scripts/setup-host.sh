#!/usr/bin/env bash
# Make this host able to build and run the project's containers:
#   - a Docker Engine that answers `docker info` (installed and started in the
#     background on Debian when missing: these machines have no systemd);
#   - Compose v2 (>= 2.18) and buildx (Debian trixie's packages, which run on
#     bookworm, pinned low so nothing else comes from trixie);
#   - debootstrap (the offline base image), git, nodejs, nftables, iproute2,
#     pebble (the tests of the example app, the firewall and ACME) and
#     busybox-static (the probe the monitoring role mounts into scratch exporters).
# Safe to re-run: each step checks first and does nothing when satisfied.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mirror_script="$here/../roles/offline_images/files/debian-mirror.py"
dockerd_log=/var/log/auraspeak-dockerd.log
min_compose=2.18

log() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: ERROR: %s\n' "$*" >&2; exit 1; }

can_install() { [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }

apt_updated=""
apt_install() {
    can_install || die "missing: $*. Install them (this script installs them only as root on Debian)."
    if [ -z "$apt_updated" ]; then
        apt-get update -q >/dev/null
        apt_updated=1
    fi
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

ensure_engine() {
    if command -v docker >/dev/null && engine_answers; then
        return
    fi
    command -v dockerd >/dev/null || apt_install docker.io
    command -v docker >/dev/null || die "the docker CLI is missing after installing docker.io"
    if ! pgrep -x dockerd >/dev/null; then
        can_install || die "no Docker Engine answers and this script can only start one as root: start dockerd, or set DOCKER_HOST"
        log "starting dockerd in the background (log: $dockerd_log)"
        setsid nohup dockerd >"$dockerd_log" 2>&1 < /dev/null &
    fi
    for _ in $(seq 1 60); do
        engine_answers && { log "engine: $(docker version --format '{{.Server.Version}}')"; return; }
        sleep 1
    done
    tail -n 20 "$dockerd_log" >&2 || true
    die "the Docker Engine did not answer within 60 s (see $dockerd_log)"
}

version_at_least() {  # version_at_least HAVE WANT: true when HAVE >= WANT (major.minor)
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

compose_ok() {
    local version
    version=$(docker compose version --short 2>/dev/null) || return 1
    version_at_least "${version#v}" "$min_compose"
}

add_trixie_source() {
    local mirror
    [ -f /etc/apt/sources.list.d/auraspeak-trixie.sources ] && return
    mirror=$(python3 "$mirror_script") || die "could not read the Debian mirror from the apt sources"
    log "adding Debian trixie (pin priority 100) from the mirror apt already uses"
    cat >/etc/apt/sources.list.d/auraspeak-trixie.sources <<SOURCES
# Added by auraspeak.ops scripts/setup-host.sh for docker-compose (v2) and docker-buildx.
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    cat >/etc/apt/preferences.d/auraspeak-trixie <<'PIN'
# Nothing comes from trixie unless asked for by name (package/trixie).
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
    apt_updated=""
}

ensure_compose_and_buildx() {
    local wanted=()
    compose_ok || wanted+=(docker-compose/trixie)
    docker buildx version >/dev/null 2>&1 || wanted+=(docker-buildx/trixie)
    [ ${#wanted[@]} -eq 0 ] && return
    can_install || die "missing: Compose v2 >= $min_compose and/or buildx; install the docker-compose-plugin and docker-buildx-plugin"
    add_trixie_source
    apt_install "${wanted[@]}"
    compose_ok || die "docker compose is still missing or older than $min_compose"
    docker buildx version >/dev/null 2>&1 || die "docker buildx is still missing"
}

ensure_tools() {
    local missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v git >/dev/null || missing+=(git)
    command -v node >/dev/null || missing+=(nodejs)  # the example app's unit tests
    command -v nft >/dev/null || missing+=(nftables)  # the firewall role
    command -v ip >/dev/null || missing+=(iproute2)  # network namespaces of the firewall tests
    command -v pebble >/dev/null || missing+=(pebble)  # the ACME test server of the edge tests
    [ -x /bin/busybox ] || missing+=(busybox-static)  # the monitoring role's exporter probe
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

ensure_engine
ensure_compose_and_buildx
ensure_tools
log "ready: $(docker compose version --short) compose, buildx $(docker buildx version | awk '{print $2}')"
