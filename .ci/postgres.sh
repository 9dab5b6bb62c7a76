# Sourced by .ci/run: starts a throwaway PostgreSQL on a loopback port for the tests that check
# migration-safety's claims (locks, rewrites, scans) against a real server, and exports
# MIGRATION_SAFETY_TEST_PG. Installs Debian's PostgreSQL when no server binaries are present.
# initdb refuses to run as root, so as root the cluster belongs to an unprivileged user.

ms_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(ms_pg_bin)" ]; then
  echo "installing PostgreSQL (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
fi
MS_PG_BIN="$(ms_pg_bin)"
MS_PG_PORT="${MS_PG_PORT:-54329}"
MS_PG_DATA="$(mktemp -d /tmp/migration-safety-pg.XXXXXX)"

if [ "$(id -u)" = 0 ]; then
  id mstest >/dev/null 2>&1 || useradd --create-home --shell /bin/sh mstest
  chown mstest "$MS_PG_DATA"
  ms_as_pg() { su mstest -s /bin/sh -c "$*"; }
  MS_PG_USER=mstest
else
  ms_as_pg() { sh -c "$*"; }
  MS_PG_USER="$(id -un)"
fi

ms_as_pg "'$MS_PG_BIN/initdb' -D '$MS_PG_DATA' -A trust -U '$MS_PG_USER' --no-sync >/dev/null"
ms_as_pg "'$MS_PG_BIN/pg_ctl' -D '$MS_PG_DATA' -l '$MS_PG_DATA/server.log' -w -o \"-p $MS_PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null"
ms_pg_stop() { ms_as_pg "'$MS_PG_BIN/pg_ctl' -D '$MS_PG_DATA' -m immediate stop >/dev/null 2>&1" || true; rm -rf "$MS_PG_DATA"; }
trap ms_pg_stop EXIT

export MIGRATION_SAFETY_TEST_PG="postgresql://$MS_PG_USER@127.0.0.1:$MS_PG_PORT/postgres"
echo "PostgreSQL $("$MS_PG_BIN/postgres" --version | awk '{print $3}') running at $MIGRATION_SAFETY_TEST_PG"
