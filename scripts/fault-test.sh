#!/usr/bin/env bash
# Fault scenarios (docs/faults.md): the real binaries and a real
# redis-server (AOF, appendfsync always) on this machine, on loopback
# ports, broken on purpose — Redis SIGKILLed under ingestion, assembler
# replicas SIGKILLed mid-job, every service restarted under load, approval
# races, Redis away, malformed requests to every RPC, the tenant isolation
# matrix, one tenant's denial-of-service inputs while another works — plus
# the template engine and page tokens under libFuzzer (scripts/fuzz.sh).
# Prints per scenario what was done and what was lost, writes
# build/fault/results.json (one flat JSON object, faults.*), and exits
# non-zero when anything acknowledged was lost or duplicated, a history
# broke, a service crashed or a tenant boundary leaked.
#   scripts/fault-test.sh            full run (about 4 minutes, plus 2 of fuzzing)
#   scripts/fault-test.sh --short    the CI length (about 1.5 minutes)
#   scripts/fault-test.sh --short --only=1,5 --seed=7    (fault_runner flags)
# GOVREPORT_FAULT_BUILD_DIR=DIR uses the binaries already built in DIR.
# GOVREPORT_FAULT_FUZZ_SECONDS sets the fuzzing time (default 120; 20 with
# --short, and only if the fuzzer is already built; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
short=""
args=()
for a in "$@"; do
  [ "$a" = "--short" ] && short=1
  args+=("$a")
done
# GOVREPORT_FAULT_BUILD_DIR: an existing build to use as it is (CI, or a
# developer's own build directory); by default build/ is brought up to date.
build_dir="${GOVREPORT_FAULT_BUILD_DIR:-build}"
if [ "$build_dir" = build ]; then
  scripts/setup-deps.sh
  scripts/build.sh records templates approval assembler fault_runner
fi
mkdir -p "$build_dir/fault"
out="$build_dir/fault/results.json"

rc=0
"$build_dir/tests/fault/fault_runner" "${args[@]}" --out="$out" || rc=$?

# 6b. The template engine under libFuzzer and AddressSanitizer.
fuzz_seconds="${GOVREPORT_FAULT_FUZZ_SECONDS:-}"
if [ -z "$fuzz_seconds" ]; then
  if [ -n "$short" ]; then
    fuzz_seconds=20
    # CI builds the fuzzer in scripts/test.sh; do not build it twice here.
    [ -x build-fuzz/tests/templates/fuzz_template ] || fuzz_seconds=0
  else
    fuzz_seconds=120
  fi
fi
fuzz_verdict=skipped
fuzz_runs=0
if [ "$fuzz_seconds" -gt 0 ]; then
  if scripts/fuzz.sh "$fuzz_seconds" >"$build_dir/fault/fuzz.out" 2>&1; then
    fuzz_verdict=passed
  else
    fuzz_verdict=failed
    rc=1
  fi
  fuzz_runs=$(sed -n 's/.*stat::number_of_executed_units: *\([0-9]*\).*/\1/p' build-fuzz/fuzz.log 2>/dev/null | tail -n1)
  echo "scenario 6b template fuzzing: ${fuzz_verdict} — did ${fuzz_runs:-0} libFuzzer runs in ${fuzz_seconds}s (see $build_dir/fault/fuzz.out)"
else
  echo "scenario 6b template fuzzing: skipped (GOVREPORT_FAULT_FUZZ_SECONDS=0 or fuzzer not built)"
fi
python3 - "$out" "$fuzz_verdict" "$fuzz_seconds" "${fuzz_runs:-0}" <<'PY'
import json, sys
path, verdict, seconds, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4] or 0)
try:
    results = json.load(open(path))
except (OSError, ValueError):
    results = {"faults.runner": "did not finish"}
results["faults.fuzz.verdict"] = verdict
results["faults.fuzz.seconds"] = seconds
results["faults.fuzz.runs"] = runs
results["faults.fuzz.crashes"] = 1 if verdict == "failed" else 0
json.dump(results, open(path, "w"), indent=2, sort_keys=True)
PY
echo "results: $out"
exit "$rc"
