#!/bin/sh
# Entrypoint of the offline postgres image, with the interface of the
# official postgres image's docker-entrypoint.sh: POSTGRES_PASSWORD,
# POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS (each also as *_FILE),
# POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD, PGDATA, and
# /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz run once on the first
# start. It runs Debian's server binaries directly (no pg_ctlcluster).
set -eu

# file_env VAR [DEFAULT]: export VAR from $VAR, or from the file named by
# $VAR_FILE (a Docker secret), or DEFAULT; setting both is an error.
file_env() {
    fe_var=$1
    eval "fe_val=\${$fe_var:-}"
    eval "fe_file=\${${fe_var}_FILE:-}"
    if [ -n "$fe_val" ] && [ -n "$fe_file" ]; then
        echo "error: both $fe_var and ${fe_var}_FILE are set (but are exclusive)" >&2
        exit 1
    fi
    if [ -n "$fe_file" ]; then
        fe_val=$(cat "$fe_file")
    elif [ -z "$fe_val" ]; then
        fe_val=${2:-}
    fi
    export "$fe_var=$fe_val"
    unset "${fe_var}_FILE"
}

# True when the arguments only ask postgres for help or its version.
want_help() {
    for arg; do
        case $arg in
            '-?' | --help | --describe-config | -V | --version) return 0 ;;
        esac
    done
    return 1
}

# Quote one argument for /bin/sh (pg_ctl -o passes its options through it).
sh_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
    : "${POSTGRES_INITDB_WALDIR:=}"
    export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
}

# Create PGDATA and the socket directory; as root, also hand them to postgres.
create_db_directories() {
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA" 2>/dev/null || :
    # With --read-only this is a tmpfs; without it, the image's directory.
    mkdir -p /var/run/postgresql
    chmod 3777 /var/run/postgresql 2>/dev/null || :
    if [ -n "$POSTGRES_INITDB_WALDIR" ]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        chmod 0700 "$POSTGRES_INITDB_WALDIR" 2>/dev/null || :
    fi
    if [ "$(id -u)" = 0 ]; then
        find "$PGDATA" /var/run/postgresql ${POSTGRES_INITDB_WALDIR:+"$POSTGRES_INITDB_WALDIR"} \
            \! -user postgres -exec chown postgres:postgres '{}' +
    fi
}

verify_minimum_env() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a
       non-empty value for the superuser, or set
       POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a
       password (not recommended).
EOM
        exit 1
    fi
}

# initdb with the superuser's name and password; POSTGRES_INITDB_ARGS is
# evaluated like in the official image, so quoted values in it work.
init_database_dir() {
    set --
    if [ -n "$POSTGRES_INITDB_WALDIR" ]; then
        set -- --waldir "$POSTGRES_INITDB_WALDIR"
    fi
    if [ -n "$POSTGRES_PASSWORD" ]; then
        set -- "$@" --pwfile=/dev/stdin
    fi
    printf '%s\n' "$POSTGRES_PASSWORD" |
        eval 'initdb --username="$POSTGRES_USER" '"$POSTGRES_INITDB_ARGS"' "$@"'
}

# Allow TCP connections from anywhere with POSTGRES_HOST_AUTH_METHOD, by
# default the server's password_encryption (scram-sha-256 on 15).
setup_hba_conf() {
    if [ "$1" = postgres ]; then shift; fi
    if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
        POSTGRES_HOST_AUTH_METHOD=$(postgres -C password_encryption "$@")
    fi
    {
        printf '\n'
        if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
            printf '# warning trust is enabled for all connections\n'
        fi
        printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
    } >>"$PGDATA/pg_hba.conf"
}

# A server on the Unix socket only, for the setup steps.
temp_server_start() {
    if [ "$1" = postgres ]; then shift; fi
    set -- "$@" -c listen_addresses= -p "${PGPORT:-5432}"
    ts_opts=
    for arg; do
        ts_opts="$ts_opts $(sh_quote "$arg")"
    done
    PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$ts_opts" -w start
}

temp_server_stop() {
    PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

# psql on the local socket as the superuser, into POSTGRES_DB unless the
# arguments name another --dbname.
process_sql() {
    PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
        --no-password --no-psqlrc --dbname "$POSTGRES_DB" "$@"
}

setup_db() {
    db_exists=$(process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<'EOSQL'
SELECT 1 FROM pg_database WHERE datname = :'db' ;
EOSQL
)
    if [ -z "$db_exists" ]; then
        process_sql --dbname postgres --set db="$POSTGRES_DB" <<'EOSQL'
CREATE DATABASE :"db" ;
EOSQL
    fi
}

# Run the init files in name order: executable *.sh run, others are
# sourced (in this POSIX shell, without set -u), *.sql go through psql.
process_init_files() {
    for f in /docker-entrypoint-initdb.d/*; do
        [ -e "$f" ] || continue
        case $f in
            *.sh)
                if [ -x "$f" ]; then
                    echo "$0: running $f"
                    "$f"
                else
                    echo "$0: sourcing $f"
                    set +u
                    # shellcheck disable=SC1090  # user-provided file
                    . "$f"
                    set -u
                fi
                ;;
            *.sql)
                echo "$0: running $f"
                process_sql -f "$f"
                ;;
            *.sql.gz)
                echo "$0: running $f"
                gunzip -c "$f" | process_sql
                ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
}

# `docker run IMAGE -c key=value`: the arguments are for postgres.
if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && ! want_help "$@"; then
    setup_env
    create_db_directories
    # Started as root: continue as postgres (the official image uses gosu).
    if [ "$(id -u)" = 0 ]; then
        export HOME=/var/lib/postgresql
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi

    if [ -s "$PGDATA/PG_VERSION" ]; then
        echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
    else
        verify_minimum_env
        init_database_dir
        setup_hba_conf "$@"
        # Needed by psql when local connections need a password too
        # (e.g. POSTGRES_INITDB_ARGS=--auth-local=scram-sha-256).
        export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
        temp_server_start "$@"
        setup_db
        process_init_files
        temp_server_stop
        unset PGPASSWORD
        echo 'PostgreSQL init process complete; ready for start up.'
    fi
fi

exec "$@"
