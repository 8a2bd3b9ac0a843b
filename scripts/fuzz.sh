#!/usr/bin/env bash
# Fuzzes the template parser, validator and renderer with libFuzzer and
# AddressSanitizer (clang) for a bounded time.
#   scripts/fuzz.sh [SECONDS]     default 60
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scripts/setup-deps.sh --fuzz
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DGOVREPORT_BUILD_FUZZ=ON -DGOVREPORT_BUILD_BENCH=OFF >/dev/null
fi
cmake --build build-fuzz -j2 --target fuzz_template
mkdir -p build-fuzz/corpus
# Seeds: the shipped template and the spec's templates are good starting points.
cp deploy/profiles/strict-governance/base.mustache build-fuzz/corpus/ 2>/dev/null || true
rc=0
build-fuzz/tests/templates/fuzz_template build-fuzz/corpus \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
  >build-fuzz/fuzz.log 2>&1 || rc=$?
grep -E "stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY" build-fuzz/fuzz.log || true
if [ "$rc" -ne 0 ]; then
  echo "the fuzzer found a problem (exit $rc); see build-fuzz/fuzz.log and the crash-* file" >&2
  exit 1
fi
echo "fuzzed the template engine for ${seconds}s without a crash"
