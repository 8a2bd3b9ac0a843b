#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over C++ files, two at a time (these machines
# have two cores). Any finding fails the run.
#   scripts/tidy.sh [BASE]           the files changed against BASE (default:
#                                    origin/main, else main), committed or not
#   scripts/tidy.sh --all [PATH...]  every tracked C++ file under services/ and
#                                    tests/ (or under the PATHs, files or folders)
# Needs build/compile_commands.json and the generated protobuf headers, so it
# configures build/ and builds gr_proto first (scripts/build.sh), unless
# GOVREPORT_TIDY_NO_BUILD=1 says that is done: scripts/test.sh runs this beside
# its own build of build/, and two ninja runs in one build folder collide.
#
# A project header is checked inside the source files that include it
# (HeaderFilterRegex in .clang-tidy), not as a file of its own: a header run
# costs as much CPU as a source file's (the generated protobuf and gRPC
# headers it includes are most of the work), and every header under services/
# and tests/ is included by a .cc there. So --all checks the .cc files, plus
# any header that none of them includes; a changed header is checked itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# The headers that the given .cc files include by a quoted path, resolved
# against the including file's folder and the include folders CMake gives
# (services/, the repo root, tests/support/).
included_by() {
  local c inc
  for c in "$@"; do
    while IFS= read -r inc; do
      printf '%s\n' "$(dirname "$c")/$inc" "services/$inc" "$inc" "tests/support/$inc"
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$c")
  done | sed 's|^\./||' | sort -u
}

files=()
if [ "${1:-}" = "--all" ]; then
  shift
  paths=("$@")
  [ ${#paths[@]} -gt 0 ] || paths=(services tests)
  paths=("${paths[@]%/}")
  what="C++ file(s) under ${paths[*]}"
  mapfile -t sources < <(git ls-files -- "${paths[@]}" | grep -E '\.cc$' || true)
  mapfile -t headers < <(git ls-files -- "${paths[@]}" | grep -E '\.h$' || true)
  files=("${sources[@]}")
  if [ ${#headers[@]} -gt 0 ]; then
    mapfile -t lone < <(comm -23 <(printf '%s\n' "${headers[@]}" | sort -u) \
      <(included_by "${sources[@]}"))
    files+=("${lone[@]}")
  fi
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
  [ -n "$f" ] && [ -f "$f" ] && existing+=("$f")
done
# A .cc the build does not compile here (render_bench.cc without its
# bench-only peer libmstch-dev) has no command of its own: clang-tidy would
# guess one from a neighbour and fail on the includes it cannot find. It is
# checked where the build compiles it.
if [ -f build/compile_commands.json ]; then
  compiled=()
  for f in "${existing[@]}"; do
    if [[ "$f" == *.cc ]] && ! grep -qF "\"file\": \"$PWD/$f\"" build/compile_commands.json; then
      echo "not compiled in this build, not checked: $f"
    else
      compiled+=("$f")
    fi
  done
  existing=("${compiled[@]}")
fi
if [ ${#existing[@]} -eq 0 ]; then
  echo "no C++ file to check ($what)"
  exit 0
fi
[ "${GOVREPORT_TIDY_NO_BUILD:-}" = 1 ] || scripts/build.sh gr_proto >/dev/null
# The build's commands without what only GCC takes: the precompiled header
# (GOVREPORT_PCH; clang cannot read a .gch, and each file is to be checked
# with the includes it names itself) and the GCC 12 warning switches of the
# top CMakeLists.txt, which clang does not know.
mkdir -p build/tidy
sed -E 's# -Winvalid-pch##g; s# -include [^ ]*cmake_pch\.hxx##g; s# -Wno-stringop-over(read|flow)##g' \
  build/compile_commands.json >build/tidy/compile_commands.json
echo "clang-tidy over ${#existing[@]} $what"
# One file per run, largest first, so that the two jobs stay busy to the end.
printf '%s\0' "${existing[@]}" | xargs -0 wc -c | grep -v ' total$' | sort -rn |
  sed 's/^ *[0-9]* //' | tr '\n' '\0' |
  xargs -0 -r -n 1 -P 2 clang-tidy -p build/tidy --quiet --warnings-as-errors='*'
