#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the `nasops tune` workers test.
#   .ci/postgres.sh start      installs PostgreSQL with apt-get when it is missing (as root, unless
#                              NASOPS_PG_NO_INSTALL is set), creates a cluster in a new temp dir,
#                              starts it on a free loopback port and prints "URL DATADIR"; exit 1
#                              with the reason on stderr when no server can be started
#   .ci/postgres.sh stop DIR   stops that server and removes DIR
set -uo pipefail

pg_bin() {
  local dir
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/pg_ctl && -x $dir/initdb ]] && { echo "$dir"; return 0; }
  done
  return 1
}

install_pg() {
  [[ -z ${NASOPS_PG_NO_INSTALL:-} ]] || { echo "PostgreSQL is not installed" >&2; return 1; }
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null \
    || { echo "PostgreSQL is not installed, and apt-get (as root) is unavailable" >&2; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -q postgresql || { apt-get update -q && apt-get install -y -q postgresql; }; } \
    >/dev/null 2>&1 || { echo "apt-get install postgresql failed" >&2; return 1; }
}

# Run a server binary as the postgres user when we are root (PostgreSQL refuses root).
as_pg() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin dir port
  bin=$(pg_bin) || { install_pg && bin=$(pg_bin); } || { echo "no pg_ctl/initdb found" >&2; return 1; }
  if [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
    echo "running as root, but there is no postgres user to run the server" >&2
    return 1
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/nasops-pg.XXXXXX")
  [[ $(id -u) == 0 ]] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if ! as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1; then
    echo "initdb failed: $(tail -n 1 "$dir/initdb.log")" >&2
    rm -rf "$dir"
    return 1
  fi
  if ! as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/data" start >/dev/null 2>&1; then
    echo "pg_ctl start failed: $(tail -n 1 "$dir/data/server.log" 2>/dev/null)" >&2
    rm -rf "$dir"
    return 1
  fi
  echo "postgresql://postgres@127.0.0.1:$port/postgres $dir"
}

stop() {
  local dir=$1 bin
  [[ -d $dir/data ]] || return 0
  bin=$(pg_bin) && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$dir"
}

case ${1:-} in
  start) start ;;
  stop) stop "${2:?usage: .ci/postgres.sh stop DATADIR}" ;;
  *) echo "usage: .ci/postgres.sh start | stop DATADIR" >&2; exit 2 ;;
esac
