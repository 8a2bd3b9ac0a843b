#!/usr/bin/env bash
# Benchmarks. Every figure is measured side by side with its named peer in
# the same run, because these machines are noisy; the ratios are what to
# compare between runs. Writes build/bench/results.json (one flat JSON
# object) and prints it.
#   scripts/bench.sh            full run (fills an org with 1 million records)
#   scripts/bench.sh --quick    small sizes, for a smoke test
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
scripts/setup-deps.sh --bench
scripts/build.sh records_bench
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
python3 - "${parts[@]}" > build/bench/results.json <<'PY'
import json, sys
merged = {}
for part in sys.argv[1:]:
    merged.update(json.loads(part))
print(json.dumps(merged, indent=2, sort_keys=True))
PY
cat build/bench/results.json
