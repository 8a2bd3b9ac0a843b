#!/usr/bin/env bash
# Fuzzes the template parser, validator and renderer, then the page token
# decoder, with libFuzzer and AddressSanitizer (clang) for a bounded time in
# all: the page tokens get a tenth of it (at least a second), the templates
# the rest.
#   scripts/fuzz.sh [SECONDS]     default 60
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
token_seconds=$(( seconds / 10 ))
[ "$token_seconds" -ge 1 ] || token_seconds=1
template_seconds=$(( seconds - token_seconds ))
[ "$template_seconds" -ge 1 ] || template_seconds=1
scripts/setup-deps.sh --fuzz
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DGOVREPORT_BUILD_FUZZ=ON -DGOVREPORT_BUILD_BENCH=OFF -DGOVREPORT_PCH=OFF >/dev/null
fi
cmake --build build-fuzz -j2 --target fuzz_template fuzz_page_token
mkdir -p build-fuzz/corpus
# Seeds: the shipped template and the spec's templates are good starting points.
cp deploy/profiles/strict-governance/base.mustache build-fuzz/corpus/ 2>/dev/null || true
rc=0
build-fuzz/tests/templates/fuzz_template build-fuzz/corpus \
  -max_total_time="$template_seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
  >build-fuzz/fuzz.log 2>&1 || rc=$?
grep -E "stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY" build-fuzz/fuzz.log || true
if [ "$rc" -ne 0 ]; then
  echo "the fuzzer found a problem (exit $rc); see build-fuzz/fuzz.log and the crash-* file" >&2
  exit 1
fi
echo "fuzzed the template engine for ${template_seconds}s without a crash"
# Page tokens: arbitrary bytes as tokens, and minted tokens altered
# (tests/common/fuzz_page_token.cc). Its own log, so fuzz.log stays the
# template fuzzer's (scripts/fault-test.sh reads its stats).
mkdir -p build-fuzz/corpus-page-token
build-fuzz/tests/common/fuzz_page_token build-fuzz/corpus-page-token \
  -max_total_time="$token_seconds" -max_len=1024 -timeout=10 -print_final_stats=1 \
  >build-fuzz/fuzz_page_token.log 2>&1 || rc=$?
grep -E "stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY" build-fuzz/fuzz_page_token.log || true
if [ "$rc" -ne 0 ]; then
  echo "the page token fuzzer found a problem (exit $rc); see build-fuzz/fuzz_page_token.log" >&2
  exit 1
fi
echo "fuzzed the page token decoder for ${token_seconds}s without a crash"
