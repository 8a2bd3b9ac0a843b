#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over C++ files, two at a time (these machines
# have two cores). Any finding fails the run.
#   scripts/tidy.sh [BASE]           the files changed against BASE (default:
#                                    origin/main, else main), committed or not
#   scripts/tidy.sh --all [PATH...]  every tracked .cc/.h under services/ and
#                                    tests/ (or under the PATHs, files or folders)
# Needs build/compile_commands.json and the generated protobuf headers, so it
# configures build/ and builds gr_proto first (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
files=()
if [ "${1:-}" = "--all" ]; then
  shift
  paths=("$@")
  [ ${#paths[@]} -gt 0 ] || paths=(services tests)
  paths=("${paths[@]%/}")
  what="every tracked C++ file under ${paths[*]}"
  mapfile -t files < <(git ls-files -- "${paths[@]}" | grep -E '\.(cc|h)$' || true)
else
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
  what="file(s) changed against $base"
  # Changed since the fork point, committed or not; deleted files left out.
  mapfile -t files < <(git diff --name-only --diff-filter=d "$(git merge-base "$base" HEAD)" \
    -- '*.cc' '*.h')
fi
# A file deleted from the work tree but still in the index is not checked.
existing=()
for f in "${files[@]}"; do
  [ -f "$f" ] && existing+=("$f")
done
if [ ${#existing[@]} -eq 0 ]; then
  echo "no C++ file to check ($what)"
  exit 0
fi
scripts/build.sh gr_proto >/dev/null
echo "clang-tidy over ${#existing[@]} $what"
# One file per run so that the two jobs stay busy to the end. Headers are
# checked as files of their own (compile command borrowed from a neighbouring
# source file), so a finding in one is reported once.
printf '%s\0' "${existing[@]}" |
  xargs -0 -r -n 1 -P 2 clang-tidy -p build --quiet --warnings-as-errors='*'
