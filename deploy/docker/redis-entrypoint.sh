#!/bin/sh
# Entry point of the redis image (deploy/docker/Dockerfile, target redis):
# renders deploy/redis/users.acl.template with the passwords from the
# environment (REDIS_ADMIN_PASSWORD, REDIS_RECORDS_PASSWORD, ... one per
# @NAME_PASSWORD@ of the template) into a file readable by Redis alone, on a
# tmpfs, and runs redis-server with it and the arguments given. A missing
# password is an error, not an open door.
#   redis-entrypoint.sh [redis-server arguments...]
set -eu
template="${GOVREPORT_REDIS_ACL_TEMPLATE:-/usr/share/govreport/users.acl.template}"
out="${GOVREPORT_REDIS_ACL:-/run/redis/users.acl}"
script=""
for name in $(grep -o '@[A-Z]*_PASSWORD@' "$template" | sort -u | sed 's/@\([A-Z]*\)_PASSWORD@/\1/'); do
  eval "pass=\${REDIS_${name}_PASSWORD:-}"
  if [ -z "$pass" ]; then
    echo "redis-entrypoint: REDIS_${name}_PASSWORD is not set" >&2
    exit 2
  fi
  # The services put theirs into a redis:// URL: no character needs escaping.
  case "$pass" in
    *[!A-Za-z0-9]*)
      echo "redis-entrypoint: REDIS_${name}_PASSWORD: letters and digits only" >&2
      exit 2 ;;
  esac
  script="${script}s/@${name}_PASSWORD@/${pass}/g;"
done
umask 077
mkdir -p "$(dirname "$out")"
grep -v '^#' "$template" | sed "$script" >"$out"
exec redis-server "$@" --aclfile "$out"
