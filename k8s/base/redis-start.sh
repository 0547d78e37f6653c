#!/bin/sh
# Starts redis-server with redis.conf plus the two users read from the mounted Secret
# "redis-auth":
#   - default (requirepass, key admin-password): full rights, for operators, probes and replicas;
#   - proxy (key proxy-password): what ringproxy logs in as. It may not run @dangerous or @admin
#     commands, so a script sent through the proxy (EVAL reaches every command, the ones ringproxy
#     refuses included) cannot FLUSHALL, SWAPDB, MIGRATE keys away or reconfigure the shard.
#     SORT, SORT_RO and RESTORE are @dangerous too: add +sort +sort_ro or +restore if needed.
# The passwords go through standard input (a here-document, which dash feeds through a pipe, so
# the read-only root filesystem is no obstacle): never on a command line that `ps` shows.
# Backslashes and double quotes are escaped for redis.conf's quoted-string syntax. exec keeps
# redis-server as the container's main process, so it gets SIGTERM and saves before exiting.
# The variables and arguments exist for tests/k8s, which runs this script against a local Redis
# ("-", reading standard input, must be the last argument).
set -eu
conf=${REDIS_CONF:-/etc/redis/redis.conf}
admin_password_file=${REDIS_ADMIN_PASSWORD_FILE:-/run/secrets/redis/admin-password}
proxy_password_file=${REDIS_PROXY_PASSWORD_FILE:-/run/secrets/redis/proxy-password}
quoted() { sed 's/[\\"]/\\&/g' "$1"; }
exec redis-server "$conf" "$@" - <<EOF2
requirepass "$(quoted "$admin_password_file")"
user proxy on ">$(quoted "$proxy_password_file")" ~* +@all -@dangerous -@admin
EOF2
