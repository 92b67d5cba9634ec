# Sourced by .ci/run (bash, set -euo pipefail): a throw-away PostgreSQL cluster for the
# store's tests (issue 16), from Debian's `postgresql` package, in a temporary folder on
# a loopback port, run as a non-root user when CI runs as root (initdb refuses root).
# Exports CAREACCESS_TEST_DATABASE_URL; `pg_cluster_stop` stops it and removes the folder.

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "PostgreSQL server binaries not found (Debian package postgresql)" >&2
  return 1
fi
pg_dir=$(mktemp -d -t careaccess-pg.XXXXXX)
pg_port=${CAREACCESS_TEST_PG_PORT:-55432}
pg_as=()
if [ "$(id -u)" = 0 ]; then
  id -u postgres >/dev/null 2>&1 ||
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown postgres "$pg_dir"
  pg_as=(runuser -u postgres --)
fi
pg_cluster_stop() {
  "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
"${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U careaccess --auth=trust -E UTF8 \
  --no-sync >/dev/null
"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-k $pg_dir -p $pg_port -h 127.0.0.1 -c fsync=off" start >/dev/null ||
  { cat "$pg_dir/log" >&2; pg_cluster_stop; return 1; }
export CAREACCESS_TEST_DATABASE_URL="postgres://careaccess@127.0.0.1:$pg_port/postgres"
