#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
# Tests start their own redis-server on free ports and their own services.
set -euo pipefail
cd "$(dirname "$0")/.."
# LibreOffice and poppler: the DOCX test opens documents with a real reader.
scripts/setup-deps.sh --docs "$@"
scripts/build.sh
# The template engine under libFuzzer + AddressSanitizer, for a bounded time.
scripts/fuzz.sh "${GOVREPORT_FUZZ_SECONDS:-60}"
cd build
ctest --output-on-failure -j2 --timeout 600
