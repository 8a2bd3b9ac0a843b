#!/usr/bin/env bash
# Formats every tracked C++ file with the repo's .clang-format, as
# scripts/test.sh checks it (clang-format 14, Debian 12).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -z '*.cc' '*.h' | xargs -0 -r clang-format -i
