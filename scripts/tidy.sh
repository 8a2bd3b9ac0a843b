#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over the C++ files changed against a base:
# the whole tree takes too long on two cores. Any finding fails the run.
#   scripts/tidy.sh [BASE]     default: origin/main, else main
# Needs build/compile_commands.json and the generated protobuf headers, so it
# configures build/ and builds gr_proto first (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-}"
if [ -z "$base" ]; then
  for candidate in origin/main main; do
    if git rev-parse -q --verify "$candidate^{commit}" >/dev/null; then
      base="$candidate"
      break
    fi
  done
fi
[ -n "$base" ] || { echo "no base: give one, e.g. scripts/tidy.sh HEAD~1" >&2; exit 2; }
# Changed since the fork point, committed or not; deleted files left out.
mapfile -t files < <(git diff --name-only --diff-filter=d "$(git merge-base "$base" HEAD)" \
  -- '*.cc' '*.h')
if [ ${#files[@]} -eq 0 ]; then
  echo "no C++ file changed against $base"
  exit 0
fi
scripts/build.sh gr_proto >/dev/null
echo "clang-tidy over ${#files[@]} file(s) changed against $base"
# Headers are checked as files of their own (compile command borrowed from a
# neighbouring source file), so a finding in one is reported once.
printf '%s\0' "${files[@]}" |
  xargs -0 -r -n 4 -P 2 clang-tidy -p build --quiet --warnings-as-errors='*'
