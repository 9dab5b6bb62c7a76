#!/usr/bin/env bash
# Builds the npm packages of the migration-safety CLI, the way esbuild and biome ship theirs:
#   migration-safety                  the `migration-safety` command (a Node shim), with the
#                                     platform packages as optionalDependencies
#   @migration-safety/cli-linux-x64   the release binary for Linux x64
# Usage: npm/build.sh OUT_DIR
# Builds the release binary with cargo, then writes both tarballs (`npm pack`) to OUT_DIR and
# prints their paths. Set MIGRATION_SAFETY_BINARY to package an already-built binary instead.
# The packages take the version of the Rust crates (the workspace's Cargo.toml).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: npm/build.sh OUT_DIR" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  *) echo "npm/build.sh: only the linux-x64 package can be built, not on $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
if [ -z "$version" ]; then
  echo "npm/build.sh: no version in $root/Cargo.toml" >&2
  exit 2
fi

binary="${MIGRATION_SAFETY_BINARY:-}"
if [ -z "$binary" ]; then
  cargo build --release --locked --manifest-path "$root/Cargo.toml" -p migration-safety --features cli
  binary="${CARGO_TARGET_DIR:-$root/target}/release/migration-safety"
fi
if [ ! -x "$binary" ]; then
  echo "npm/build.sh: $binary is not an executable" >&2
  exit 2
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
platform_package="@migration-safety/cli-$platform"

cp -R "$root/npm/cli-$platform" "$stage/platform"
mkdir -p "$stage/platform/bin"
install -m 755 "$binary" "$stage/platform/bin/migration-safety"
cp -R "$root/npm/migration-safety" "$stage/main"
for dir in "$stage/platform" "$stage/main"; do
  cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$dir/"
  (cd "$dir" && npm pkg set "version=$version")
done
(cd "$stage/main" && npm pkg set "optionalDependencies.$platform_package=$version")

for dir in "$stage/platform" "$stage/main"; do
  (cd "$dir" && npm pack --silent --pack-destination "$out" | sed "s|^|$out/|")
done
