# Runs inside the project's PostgreSQL container (docker compose exec -T postgres sh -c <this>):
# makes each named login role take the password on stdin, so no password reaches a command line.
#
#   postgres-password OWNER DATABASE apply|plan ROLE...
#
# A ROLE written ?ROLE is left alone when it does not exist.
# A role has one password, so a new one cannot be taken beside the old one as Redis does: the app's
# login alternates between the owner (POSTGRES_USER) and a second login role, and the role the serving
# release does not use takes the new password. A role other than the owner is created on first use,
# as a member of the owner that becomes the owner at login (ALTER ROLE ... SET role), so what it creates
# belongs to the owner either way.
#
# Whether a role takes the password is tried by logging in over the container's own address, where
# pg_hba asks for it (the socket and loopback are trusted). Prints "changed" or "unchanged".
set -eu
owner=$1
database=$2
mode=$3
shift 3
IFS= read -r password || true
address=$(hostname)
ident() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 --username "$owner" --dbname "$database"; }
takes() { PGPASSWORD=$password psql -X -q -w -h "$address" -U "$1" -d "$database" -c '' >/dev/null 2>&1; }
exists() { [ "$(printf "SELECT 1 FROM pg_roles WHERE rolname = '%s';\n" "$(printf '%s' "$1" | sed "s/'/''/g")" | sql)" = 1 ]; }
changed=unchanged
for role in "$@"; do
  case $role in
    \?*) role=${role#?}; exists "$role" || continue ;;
  esac
  if exists "$role" && takes "$role"; then continue; fi
  changed=changed
  [ "$mode" = apply ] || continue
  if ! exists "$role"; then
    printf 'CREATE ROLE %s LOGIN IN ROLE %s;\nALTER ROLE %s SET role = %s;\n' \
      "$(ident "$role")" "$(ident "$owner")" "$(ident "$role")" "$(ident "$owner")" | sql
  fi
  # printf is the shell's own: the password goes to psql's stdin only.
  printf 'ALTER ROLE %s PASSWORD '"'"'%s'"'"';\n' "$(ident "$role")" "$(printf '%s' "$password" | sed "s/'/''/g")" | sql
  takes "$role" || { echo "PostgreSQL role $role does not log in with the new password after ALTER ROLE" >&2; exit 1; }
done
echo "$changed"
