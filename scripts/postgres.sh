#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `bash scripts/postgres.sh CMD ARGS...` runs CMD with
# a private cluster up, then stops it and deletes it, and exits with CMD's status.
#
# - Installs the server from Debian (apt-get install postgresql) when no initdb is found.
# - The cluster lives in a temp dir, listens on 127.0.0.1 at a free port, and requires a
#   password (scram-sha-256), so that the tests see a real login (and can check that the
#   password never shows in storypack's output). initdb refuses root: as root, the cluster
#   runs as the `postgres` user (created when missing).
# - CMD sees STORYPACK_TEST_PG (a superuser URL, postgres://storypack:PASSWORD@127.0.0.1:PORT/
#   storypack; tests create a database each) and STORYPACK_TEST_PG_CTL (a script taking
#   stop, start or restart, for the fault tests).
#
# Without CMD, it prints the two variables and waits until interrupted (a cluster for
# working by hand: `eval "$(...)"` the printed lines in another shell).
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return 0; }
    done
    return 1
}

if ! bin="$(find_bin)"; then
    say "no PostgreSQL server binaries; apt-get install postgresql"
    sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postgresql-common >/dev/null
    # Debian's postinst would create and start a system cluster: not wanted here.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/storypack.conf
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postgresql >/dev/null
    bin="$(find_bin)" || { say "still no initdb after apt-get install postgresql"; exit 2; }
fi

as_owner=()
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    as_owner=(runuser -u postgres --)
fi

dir="$(mktemp -d /tmp/storypack-pg.XXXXXX)"
chmod 755 "$dir"
[[ ${#as_owner[@]} -gt 0 ]] && chown postgres "$dir"
data="$dir/data"
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)"
printf '%s\n' "$password" >"$dir/pwfile"
[[ ${#as_owner[@]} -gt 0 ]] && chown postgres "$dir/pwfile"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

"${as_owner[@]}" "$bin/initdb" -D "$data" -U storypack --pwfile="$dir/pwfile" \
    --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 2; }
rm -f "$dir/pwfile"

cat >"$dir/ctl" <<EOF
#!/usr/bin/env bash
# stop | start | restart the test cluster in $data
set -euo pipefail
opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on"
case "\$1" in
    stop) ${as_owner[*]} "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null ;;
    start) ${as_owner[*]} "$bin/pg_ctl" -D "$data" -o "\$opts" -l "$dir/server.log" -w start >/dev/null ;;
    restart) ${as_owner[*]} "$bin/pg_ctl" -D "$data" -o "\$opts" -l "$dir/server.log" -m fast -w restart >/dev/null ;;
    *) echo "usage: \$0 stop|start|restart" >&2; exit 2 ;;
esac
EOF
chmod 755 "$dir/ctl"

cleanup() {
    "$dir/ctl" stop 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
"$dir/ctl" start || { cat "$dir/server.log" >&2; exit 2; }

export STORYPACK_TEST_PG="postgres://storypack:$password@127.0.0.1:$port/postgres"
export STORYPACK_TEST_PG_CTL="$dir/ctl"
say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') up on 127.0.0.1:$port (data in $data)"

if [[ $# -eq 0 ]]; then
    echo "export STORYPACK_TEST_PG='$STORYPACK_TEST_PG'"
    echo "export STORYPACK_TEST_PG_CTL='$STORYPACK_TEST_PG_CTL'"
    say "Ctrl-C stops it"
    trap 'exit 0' INT TERM
    while :; do sleep 3600; done
fi
set +e
"$@"
status=$?
set -e
exit "$status"
