#!/usr/bin/env bash
# The steps of the migration-safety GitHub Action (action.yml at the repository root).
#   run.sh install   builds the CLI from the action's own checkout ($GITHUB_ACTION_PATH) with
#                    `cargo install --locked` into $RUNNER_TOOL_CACHE (with $MIGRATION_SAFETY_CARGO_ARGS
#                    added), and puts it on $GITHUB_PATH
#   run.sh check     runs `migration-safety check --format github` on $MIGRATION_SAFETY_PATHS
#                    (annotations on the pull request), a summary in $GITHUB_STEP_SUMMARY, and,
#                    when $MIGRATION_SAFETY_SARIF_FILE is set, SARIF into that file; it exits with
#                    the check's status (0 clean, 1 a finding at the --fail-on level, 2 bad usage)
# Inputs come from the environment as action.yml sets it: MIGRATION_SAFETY_PATHS,
# MIGRATION_SAFETY_ARGS, MIGRATION_SAFETY_CARGO_ARGS (all three split on whitespace) and
# MIGRATION_SAFETY_SARIF_FILE.
set -euo pipefail

install_root() { echo "${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/migration-safety"; }

install() {
  local root
  root="$(install_root)"
  local -a cargo_args
  read -r -a cargo_args <<< "${MIGRATION_SAFETY_CARGO_ARGS:-}"
  cargo install --locked --features cli --root "$root" "${cargo_args[@]}" --path "$GITHUB_ACTION_PATH/migration-safety"
  echo "$root/bin" >> "$GITHUB_PATH"
  "$root/bin/migration-safety" --version
}

check() {
  local -a paths args
  read -r -a paths <<< "${MIGRATION_SAFETY_PATHS:-migrations}"
  read -r -a args <<< "${MIGRATION_SAFETY_ARGS:-}"
  local sarif="${MIGRATION_SAFETY_SARIF_FILE:-}"

  local status=0
  migration-safety check --format github "${args[@]}" "${paths[@]}" || status=$?

  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
      echo "### migration-safety"
      echo
      echo '```text'
      migration-safety check --format concise "${args[@]}" "${paths[@]}" || true
      echo '```'
    } >> "$GITHUB_STEP_SUMMARY"
  fi

  if [ -n "$sarif" ]; then
    mkdir -p "$(dirname "$sarif")"
    local sarif_status=0
    migration-safety check --format sarif "${args[@]}" "${paths[@]}" > "$sarif" || sarif_status=$?
    if [ "$sarif_status" -gt 1 ]; then
      exit "$sarif_status"
    fi
    echo "sarif-file=$sarif" >> "${GITHUB_OUTPUT:-/dev/null}"
  fi
  return "$status"
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  *) echo "usage: run.sh install|check" >&2; exit 2 ;;
esac
