#!/usr/bin/env bash
# Instructions (callgrind) of one steady-state WriteOfficialPdf of the seed
# report: render_bench run twice under callgrind, counting only inside
# WriteOfficialPdf; with GOVREPORT_BENCH_DIR set it makes one call more (the
# seed PDF it leaves there) than without, so the difference is one render
# with every per-process cache warm. Deterministic, unlike a timing.
#   scripts/pdf_instructions.sh [render_bench]   prints the count
# scripts/bench.sh reports it as render.pdf.instructions_per_doc.
set -euo pipefail
bench=${1:-build/tests/bench/render_bench}
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    --toggle-collect='govreport::layout::WriteOfficialPdf*' \
    "$bench" --benchmark_filter='BM_RenderPdf$' --benchmark_min_time=0.001 2>&1 |
    sed -n 's/.*Collected : //p'
}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
two=$(count)
three=$(GOVREPORT_BENCH_DIR=$dir count)
echo $((three - two))
