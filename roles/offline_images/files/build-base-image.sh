#!/bin/sh
# Build a minimal Debian root filesystem with debootstrap and import it as a
# Docker image. Called by the offline_images role; usable on its own:
#   build-base-image.sh SUITE MIRROR IMAGE_REF INPUT_HASH [EXTRA_PACKAGES]
# The mirror is whatever the host's apt already uses (the role reads it from
# the apt sources), so nothing here names a package host.
set -eu

suite=$1
mirror=$2
image_ref=$3
input_hash=$4
extra_packages=${5:-}

workdir=$(mktemp -d /var/tmp/auraspeak-base.XXXXXX)
trap 'rm -rf "$workdir"' EXIT INT TERM
rootfs=$workdir/rootfs

include_opt=""
if [ -n "$extra_packages" ]; then
    include_opt="--include=$extra_packages"
fi

# shellcheck disable=SC2086  # include_opt is empty or a single word
debootstrap --variant=minbase $include_opt "$suite" "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 || {
    tail -n 30 "$workdir/debootstrap.log" >&2
    exit 1
}

# Keep every later apt install small: no docs, man pages or translations.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-auraspeak-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
# Never install recommends in images unless a Dockerfile asks for them.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/01-auraspeak-norecommends"

# One way to install packages in every image built on this base: Dockerfiles
# call `apt-install PACKAGE...` with /var/lib/apt/lists and /var/cache/apt
# mounted as build caches, so no index or .deb ends up in a layer.
cat >"$rootfs/usr/local/sbin/apt-install" <<'SCRIPT'
#!/bin/sh
# apt-install PACKAGE...: update the indexes, install without recommends,
# and drop the logs and backups dpkg writes (they would only bloat the layer).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "$@"
rm -rf /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log \
    /var/cache/debconf/*-old /var/lib/dpkg/*-old
SCRIPT
chmod 0755 "$rootfs/usr/local/sbin/apt-install"

# Remove what debootstrap leaves behind and what the exclusions cover.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL io.auraspeak.ops.input-hash=$input_hash" \
    --change "LABEL org.opencontainers.image.created=$created" \
    --change "LABEL org.opencontainers.image.base.name=debian:$suite" \
    --change "LABEL org.opencontainers.image.description=\"Debian $suite minbase (debootstrap)\"" \
    - "$image_ref"
