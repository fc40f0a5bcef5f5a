#!/bin/sh
# Entrypoint of the offline redis image, with the behaviour of the official
# redis image's docker-entrypoint.sh: options or a *.conf file as the
# command go to redis-server; started as root it hands /data to redis and
# drops privileges; started with --user it runs as that user.
set -eu

# `docker run IMAGE --appendonly yes` or `docker run IMAGE /etc/redis.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# The official image builds redis with protected mode off by default;
# Debian's keeps it on, so turn it off first on the command line (later
# options still override it). A config file must come first, so with one
# the file decides.
if [ "$1" = redis-server ] && { [ $# -eq 1 ] || [ "${2%.conf}" = "$2" ]; }; then
    shift
    set -- redis-server --protected-mode no "$@"
fi

# Files written by redis (dumps, AOF) are private unless a umask was set.
if [ "$(umask)" = 0022 ]; then
    umask 0077
fi

exec "$@"
