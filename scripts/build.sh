#!/usr/bin/env bash
# Configures and builds govreport into build/ (two jobs: these machines have
# two cores). Extra arguments are build targets.
set -euo pipefail
cd "$(dirname "$0")/.."
build_type="${GOVREPORT_BUILD_TYPE:-RelWithDebInfo}"
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" ${GOVREPORT_CMAKE_ARGS:-} >/dev/null
fi
if [ $# -gt 0 ]; then
  cmake --build build -j2 --target "$@"
else
  cmake --build build -j2
fi
