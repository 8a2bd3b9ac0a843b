#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
# Tests start their own redis-server on free ports and their own services.
set -euo pipefail
cd "$(dirname "$0")/.."
# LibreOffice and poppler: the DOCX test opens documents with a real reader.
scripts/setup-deps.sh --docs --lint "$@"
# Every tracked C++ file as .clang-format has it (fix: scripts/format.sh).
git ls-files -z '*.cc' '*.h' | xargs -0 -r clang-format --dry-run -Werror
# Warnings in project code are errors here (GOVREPORT_WERROR is OFF for a
# developer's build). Configured every time: scripts/build.sh configures only
# a build/ that has none, and an old build/ keeps its options.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${GOVREPORT_BUILD_TYPE:-RelWithDebInfo}" \
  -DGOVREPORT_WERROR=ON ${GOVREPORT_CMAKE_ARGS:-} >/dev/null
scripts/build.sh
# clang-tidy (.clang-tidy: bugprone, performance, modernize, functions of at
# most 80 lines) over every C++ file under services/ and tests/, one pool of
# two jobs. About 13 minutes of the 30-minute CI budget (two cores).
scripts/tidy.sh --all
# The template engine under libFuzzer + AddressSanitizer, for a bounded time.
scripts/fuzz.sh "${GOVREPORT_FUZZ_SECONDS:-60}"
cd build
ctest --output-on-failure -j2 --timeout 600
