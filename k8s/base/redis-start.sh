#!/bin/sh
# Starts redis-server with redis.conf plus the password read from the mounted Secret. The
# password goes through standard input (a here-document, which dash feeds through a pipe, so the
# read-only root filesystem is no obstacle): it is never on a command line that `ps` shows.
# Backslashes and double quotes are escaped for redis.conf's quoted-string syntax. exec keeps
# redis-server as the container's main process, so it gets SIGTERM and saves before exiting.
# The variables and arguments exist for tests/k8s, which runs this script against a local Redis
# ("-", reading standard input, must be the last argument).
set -eu
conf=${REDIS_CONF:-/etc/redis/redis.conf}
password_file=${REDIS_PASSWORD_FILE:-/run/secrets/redis/password}
exec redis-server "$conf" "$@" - <<EOF2
requirepass "$(sed 's/[\\"]/\\&/g' "$password_file")"
EOF2
