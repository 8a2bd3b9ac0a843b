#!/usr/bin/env bash
# Benchmarks. Every figure is measured side by side with its named peer in
# the same run, because these machines are noisy; the ratios are what to
# compare between runs. Writes build/bench/results.json (one flat JSON
# object) and prints it, then a table of what changed since the previous
# results (kept as build/bench/results.prev.json).
#   scripts/bench.sh            full run (fills an org with 1 million records)
#   scripts/bench.sh --quick    small sizes, for a smoke test
#   scripts/bench.sh --memory-1m  Redis bytes per record measured at 1 million
#                               records (about 3 minutes) instead of 100 000
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
memory_records=100000
for arg in "$@"; do
  case "$arg" in
    --quick) quick="--quick"; memory_records=10000 ;;
    --memory-1m) memory_records=1000000 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
scripts/setup-deps.sh --bench --docs
# A build/ configured by demo.sh or test.sh before the bench peers (mstch)
# were installed has no render_bench target: configure it again, which finds
# them now.
[ -f build/build.ninja ] && cmake -S . -B build >/dev/null
scripts/build.sh records_bench memory_bench rollup_bench cluster_bench gateway_bench events_bench render_bench approval_bench assemble_bench fault_runner \
  records templates approval assembler
mkdir -p build/bench
parts=()
run() {
  local name="$1"; shift
  echo "== $name" >&2
  local out
  out=$("$@")
  parts+=("$out")
}
run records build/tests/bench/records_bench $quick
# Redis memory per activity record (redis.bytes_per_record, goal <= 500 in
# steady state): the sample loaded through RecordsCore into a fresh
# redis-server, with MEMORY USAGE per key kind (docs/operations.md,
# "Sizing Redis").
run memory build/tests/bench/memory_bench --records=$memory_records
# A city's roll-up over 100 departments that share their figures
# (rollup.query_us_100_children), beside 100 single figures reads.
run rollup build/tests/bench/rollup_bench $quick
# Redis Cluster (six nodes): ingest beside one redis-server
# (cluster.ingest.ratio_to_single), commands per master over 200 orgs
# (cluster.slot_balance, goal <= 1.2), and a master killed under WAIT 1
# writes (faults.cluster.records_lost / records_duplicated, goal 0 / 0;
# faults.cluster.failover_seconds).
run cluster build/tests/bench/cluster_bench $quick
# CreateActivity through the HTTP/JSON gateway beside the same call over
# gRPC in the same run (gateway.ratio_to_grpc, goal >= 0.5).
run gateway build/tests/gateway/gateway_bench $quick
# StreamEvents (lag from the write's answer to the event, events per second)
# beside a raw XREAD of the same stream.
run events build/tests/bench/events_bench $quick
# Rendering: govreport vs mstch (same template and data, outputs checked
# equal first) and the DOCX writer (the seed, and a table-heavy 政府信息公开
# 年度报告 with its frame), by Google Benchmark; then Jinja2.
min_time=2
[ -n "$quick" ] && min_time=0.2
echo "== render" >&2
GOVREPORT_BENCH_DIR=build/bench build/tests/bench/render_bench \
  --benchmark_min_time=$min_time --benchmark_format=json --benchmark_out=build/bench/render.json \
  --benchmark_out_format=json >/dev/null
parts+=("$(python3 - <<'PY'
import json
runs = {b["name"]: b["real_time"] for b in json.load(open("build/bench/render.json"))["benchmarks"]}
ours, mstch = runs["BM_RenderSeed"], runs["BM_RenderSeedMstch"]
print(json.dumps({"render.seed.ns_per_op": round(ours), "render.seed.mstch_ns_per_op": round(mstch),
                  "render.seed.speedup_vs_mstch": round(mstch / ours, 2),
                  "render.docx.us_per_op": round(runs["BM_RenderDocx"] / 1000, 1),
                  "render.docx_tables.us_per_op": round(runs["BM_RenderDocxTables"] / 1000, 1),
                  "render.pdf.ms_per_doc": round(runs["BM_RenderPdf"], 1),
                  "render.ofd.ms_per_doc": round(runs["BM_RenderOfd"], 1),
                  "sign.per_s": round(1e6 / runs["BM_SignManifest"])}))
PY
)")
# Instructions per seed PDF (callgrind), a figure that does not move with
# the machine's load; only where valgrind is installed (--bench).
if command -v valgrind >/dev/null; then
  echo "== pdf instructions" >&2
  parts+=("{\"render.pdf.instructions_per_doc\": $(scripts/pdf_instructions.sh)}")
fi
# The same seed DOCX converted to PDF by a warm LibreOffice, beside our own
# PDF (render.pdf.speedup_vs_libreoffice, goal >= 20).
echo "== libreoffice" >&2
lo_copies=20
[ -n "$quick" ] && lo_copies=3
parts+=("$(python3 scripts/libreoffice_bench.py build/bench $lo_copies)")
# CreateReport → draft revision, one at a time (p50/p99), and 200 orgs at
# once with two assembler replicas.
run assemble build/tests/assembler/assemble_bench $quick --aof
echo "== approval" >&2
approval_seconds=10
[ -n "$quick" ] && approval_seconds=2
parts+=("$(build/tests/approval/approval_bench --clients=8 --seconds=$approval_seconds --aof |
  awk '$1 == "approval.actions_per_s" { printf "{\"approval.actions_per_s\": %s}", $2 }')")
# Ingest, assembly and approvals at once against the real binaries, with
# the resident memory of each service at the end.
echo "== mixed load" >&2
parts+=("$(build/tests/fault/fault_runner --mixed $quick)")
echo "== jinja2" >&2
parts+=("$(python3 scripts/jinja_bench.py build/bench build/tests/bench/render_bench)")
mode=full
[ -n "$quick" ] && mode=quick
parts+=("{\"bench.mode\": \"$mode\"}")
python3 - "${parts[@]}" > build/bench/results.json.new <<'PY'
import json, sys
merged = {}
for part in sys.argv[1:]:
    merged.update(json.loads(part))
if "render.seed.jinja2_ns_per_op" in merged and "render.seed.best_ns_per_op" in merged:
    merged["render.seed.speedup_vs_jinja2"] = round(
        merged["render.seed.jinja2_ns_per_op"] / merged["render.seed.best_ns_per_op"], 2)
if "render.pdf.libreoffice_ms_per_doc" in merged and "render.pdf.ms_per_doc" in merged:
    merged["render.pdf.speedup_vs_libreoffice"] = round(
        merged["render.pdf.libreoffice_ms_per_doc"] / merged["render.pdf.ms_per_doc"], 2)
print(json.dumps(merged, indent=2, sort_keys=True))
PY
# The previous results are kept beside the new ones and compared with them,
# so that a regression shows at a glance (scripts/bench_compare.py says which
# way is better for each figure; it never changes the exit code).
have_prev=""
if [ -f build/bench/results.json ]; then
  mv build/bench/results.json build/bench/results.prev.json
  have_prev=yes
fi
mv build/bench/results.json.new build/bench/results.json
cat build/bench/results.json
if [ -n "$have_prev" ]; then
  echo "== compared with the previous run (build/bench/results.prev.json)"
  python3 scripts/bench_compare.py build/bench/results.prev.json build/bench/results.json || true
fi
