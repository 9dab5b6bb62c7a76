#!/usr/bin/env node
// Runs the migration-safety binary of this platform's package (installed through
// `optionalDependencies`: npm installs only the one whose `os`, `cpu` and `libc` match).
"use strict";

const { spawnSync } = require("node:child_process");

// `${process.platform}-${process.arch}` → the package that carries its binary.
const PLATFORM_PACKAGES = {
  "linux-x64": "@migration-safety/cli-linux-x64",
};

function binaryPath() {
  const override = process.env.MIGRATION_SAFETY_BINARY;
  if (override) {
    return override;
  }
  const platform = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGES[platform];
  if (!pkg) {
    fail(
      `migration-safety has no prebuilt binary for ${platform} (available: ${Object.keys(PLATFORM_PACKAGES).join(", ")}).\n` +
        "Build it with Rust instead: cargo install --git https://github.com/migration-safety/migration-safety migration-safety --features cli\n" +
        "and set MIGRATION_SAFETY_BINARY to its path to keep using this command.",
    );
  }
  try {
    return require.resolve(`${pkg}/bin/migration-safety`);
  } catch {
    fail(
      `the package ${pkg}, which carries the migration-safety binary for ${platform}, is not installed.\n` +
        "It is an optional dependency of migration-safety: reinstall without --no-optional / --omit=optional.",
    );
  }
}

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

const result = spawnSync(binaryPath(), process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  fail(`cannot run ${result.error.path}: ${result.error.message}`);
}
if (result.signal) {
  process.kill(process.pid, result.signal);
}
process.exit(result.status);
