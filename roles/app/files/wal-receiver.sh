#!/bin/sh
# The project's WAL receiver (app_postgres_wal_stream). pg_receivewal streams WAL
# from PostgreSQL, over the Unix socket the two containers share, into
# /wal-stream as it is written, so that a restore can replay up to the last byte
# received rather than to the last archived segment. Completed segments older
# than the last one PostgreSQL archived (pgBackRest) are removed: the stream
# holds only the tail the archive may lack.
#
#   wal-receiver.sh          stream (the container's entrypoint)
#   wal-receiver.sh health   exit 0 while PostgreSQL sees this receiver streaming
#
# Environment: PGHOST (the socket directory), PGUSER, PGDATABASE, WAL_SLOT (the
# replication slot), WAL_NAME (the application_name PostgreSQL sees; the one
# synchronous_standby_names names in synchronous mode).
set -u
stream=/wal-stream

sql() { psql -XAtq -c "$1" 2>/dev/null; }

if [ "${1:-}" = health ]; then
    streaming=$(sql "SELECT count(*) FROM pg_stat_replication
                     WHERE application_name = '$WAL_NAME' AND state = 'streaming'")
    [ "$streaming" = 1 ]
    exit
fi

# Segment names sort in WAL order (timeline, then position): every complete one
# before the last archived segment is in the archive already.
prune() {
    last=$(sql 'SELECT last_archived_wal FROM pg_stat_archiver') || return 0
    ls "$stream" | awk -v last="$last" '
        BEGIN { last = substr(last, 1, 24); if (length(last) < 24 || last ~ /[^0-9A-F]/) exit }
        length($0) == 24 && $0 !~ /[^0-9A-F]/ && ($0 "") < (last "")
    ' | while read -r name; do rm -f -- "$stream/$name"; done
}

# pg_receivewal pads a new segment to its full size before it writes WAL into it.
# When the disk fills while it pads, a short .partial file is left that holds no
# WAL, and pg_receivewal refuses to start again while it is there.
remove_short_partial() {
    size=$(sql "SELECT pg_size_bytes(current_setting('wal_segment_size'))") || return 0
    [ -n "$size" ] || return 0
    for f in "$stream"/*.partial; do
        [ -f "$f" ] || continue
        if [ "$(wc -c <"$f")" -ne "$size" ]; then
            echo "wal-receiver: removing $f, shorter than a segment: its padding did not finish" >&2
            rm -f -- "$f"
        fi
    done
}

child=''
stop() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child"
    fi
    exit 0
}
trap stop TERM INT

while :; do
    if [ -z "$child" ] || ! kill -0 "$child" 2>/dev/null; then
        if [ -n "$child" ]; then
            wait "$child"
            echo "wal-receiver: pg_receivewal exited with status $?; starting it again" >&2
        fi
        remove_short_partial
        # The slot keeps PostgreSQL from recycling WAL this receiver has not written,
        # up to max_slot_wal_keep_size. A restored database has none: made here.
        pg_receivewal --create-slot --if-not-exists --slot="$WAL_SLOT" --no-password
        # --synchronous: each write is flushed and reported at once, so what
        # PostgreSQL counts as received is on disk.
        pg_receivewal --directory="$stream" --slot="$WAL_SLOT" --synchronous --no-loop --no-password \
            --dbname="application_name=$WAL_NAME" --verbose &
        child=$!
    fi
    prune
    sleep 5 &
    wait $!
done
