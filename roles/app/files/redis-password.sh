# Runs inside the project's Redis container (docker compose exec -T redis sh -c <this>):
# changes which passwords Redis 7 takes for its default user, by SHA-256, so no
# password reaches a command line. stdin: the password to change on the first
# line, the one the serving release's redis.conf holds on the second. (The
# redis.conf the container sees is the one it started with: the files a deploy
# installs reach it at its next start.)
#
#   add     take it beside the current one (both work while the release rolls)
#   only    take it alone (the release that uses it is live)
#   remove  drop it again, unless the serving release uses it (it did not go live)
#
# With "plan" as the second argument it only says what it would do.
# Prints "changed" or "unchanged".
#
# A Redis started with an ACL file (on Swarm: compose.yaml.j2) saves its passwords
# to it at every step, so a restarted Redis takes what the running one takes; at an
# unchanged step too, since a run killed between the change and the save left the
# file behind.
set -eu
step=$1
plan=${2:-}
IFS= read -r password || true
IFS= read -r serving || true
logged_in() { [ "$(redis-cli ping 2>/dev/null)" = PONG ]; }
log_in() {
  for REDISCLI_AUTH in "$serving" "$password"; do
    export REDISCLI_AUTH
    if logged_in; then return 0; fi
  done
  echo "Redis takes neither the new password nor the serving release's" >&2
  exit 1
}
log_in
digest() { printf '%s' "$1" | sha256sum | cut -d ' ' -f 1; }
new=$(digest "$password")
known=$(redis-cli --raw ACL GETUSER default | grep -xE '[0-9a-f]{64}' || true)
holds() { printf '%s\n' "$known" | grep -qx "$1"; }
case $step in
  add) if holds "$new"; then set --; else set -- "#$new"; fi ;;
  only) if [ "$known" = "$new" ]; then set --; else set -- resetpass "#$new"; fi ;;
  remove) if [ "$new" = "$(digest "$serving")" ] || ! holds "$new"; then set --; else set -- "!$new"; fi ;;
  *) echo "unknown step: $step (add, only or remove)" >&2; exit 2 ;;
esac
aclfile=$(redis-cli --raw CONFIG GET aclfile | sed -n 2p)
save() {
  [ -n "$aclfile" ] && [ "$plan" != plan ] || return 0
  log_in  # the change may have dropped the password this script logged in with
  answer=$(redis-cli ACL SAVE)
  [ "$answer" = OK ] || { echo "Redis did not save its ACL file $aclfile: $answer" >&2; exit 1; }
}
if [ $# -eq 0 ]; then save; echo unchanged; exit 0; fi
if [ "$plan" != plan ]; then
  answer=$(redis-cli ACL SETUSER default "$@")
  [ "$answer" = OK ] || { echo "Redis refused the password change: $answer" >&2; exit 1; }
fi
save
echo changed
