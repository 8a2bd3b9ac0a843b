#!/usr/bin/env bash
# The real gateway binary in front of the real records binary (and a
# private redis-server), called as an outside HTTP system would: curl, and
# a Python script with the standard library only (urllib, http.client).
#   tests/gateway/http_clients.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build="$(cd "${1:-build}" && pwd)"
GR_RUN_DIR="$(mktemp -d)"
source scripts/lib.sh
trap 'gr_cleanup; rm -rf "$GR_RUN_DIR"' EXIT

gr_start_redis "$GR_RUN_DIR/redis"
gr_secrets
admin="$GOVREPORT_ADMIN_TOKEN"
records=$(GOVREPORT_REDIS_URL="$(gr_redis_url records)" \
  gr_start_service records "$build/services/records/records")
# The other backends are not started: their routes answer 503.
port=$(gr_start_service gateway "$build/services/gateway/gateway" \
  --records "127.0.0.1:$records" --templates 127.0.0.1:1 --approval 127.0.0.1:1 \
  --assembler 127.0.0.1:1 --max-body-bytes 65536 --metrics-listen 127.0.0.1:0)
metrics_port=$(gr_metrics_port gateway)
base="http://127.0.0.1:$port"

# curl: the README's examples.
code=$(curl -s -o "$GR_RUN_DIR/org.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  "$base/v1/orgs?orgId=kjj" -d '{"displayName":"中共重庆市科学技术局党组"}')
[ "$code" = 200 ] || gr_fail "CreateOrg: $code $(cat "$GR_RUN_DIR/org.json")"
grep -q '"name":"orgs/kjj"' "$GR_RUN_DIR/org.json" || gr_fail "CreateOrg body: $(cat "$GR_RUN_DIR/org.json")"
# The shipped profile file uses the short enum names reportctl accepts
# (proto3 JSON wants the full ones): reportctl loads it.
GOVREPORT_RECORDS="127.0.0.1:$records" GOVREPORT_TOKEN="$admin" \
  "$build/services/reportctl/reportctl" profile load kjj deploy/profiles/strict-governance/profile.json \
  >/dev/null || gr_fail "profile load"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/orgs/kjj")
[ "$code" = 401 ] || gr_fail "no token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $admin" "$base/v1/orgs/kjj")
[ "$code" = 405 ] || gr_fail "DELETE org: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" "$base/v1/orgs/kjj/reports")
[ "$code" = 503 ] || gr_fail "assembler down: $code"
curl -sf "$base/openapi.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["paths"]) > 50, len(d["paths"])' \
  || gr_fail "openapi.json"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")
[ "$code" = 503 ] || gr_fail "readyz with three backends down: $code"
token=$(curl -sf -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  "$base/v1/tokens" -d '{"principal":{"subject":"oa","org":"kjj","roles":["recorder","auditor"],"kind":"PRINCIPAL_KIND_SERVICE"}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

python3 tests/gateway/http_client_check.py "$base" "$token"

# Metrics: a known number of calls to one route moves its counter by as
# many; the access log is one JSON object per line and never holds a token.
rpc=/govreport.records.v1.ActivityService/ListActivities
count() {
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" | python3 -c '
import re, sys
rpc, total = sys.argv[1], 0
for line in sys.stdin:
    if line.startswith("http_requests_total{") and f"rpc=\"{rpc}\"" in line and "code=\"200\"" in line:
        total += int(float(line.rsplit(" ", 1)[1]))
print(total)' "$rpc"
}
before=$(count)
for _ in 1 2 3 4 5; do
  curl -sf -o /dev/null -H "Authorization: Bearer $token" "$base/v1/orgs/kjj/activities" ||
    gr_fail "ListActivities through the gateway"
done
after=$(count)
[ $((after - before)) = 5 ] || gr_fail "http_requests_total for $rpc moved by $((after - before)), not 5"
python3 - "$GR_RUN_DIR/gateway.log" "$token" "$admin" <<'PY' || gr_fail "gateway log"
import json, sys
log, secrets = open(sys.argv[1]).read(), sys.argv[2:]
lines = [l for l in log.splitlines() if l.strip()]
access = [json.loads(l) for l in lines if l.startswith("{")]
assert len(access) == len(lines), "a log line that is not JSON"
access = [r for r in access if "rpc" in r]
assert len(access) >= 5, len(access)
for r in access:
    for key in ("time", "level", "service", "request_id", "rpc", "code", "latency_ms"):
        assert key in r, (key, r)
for s in secrets:
    assert s not in log, "a token in the log"
PY
# A non-loopback plaintext listener without --insecure does not start.
if "$build/services/gateway/gateway" --listen 0.0.0.0:0 >/dev/null 2>&1; then
  gr_fail "plaintext on 0.0.0.0 started"
fi
echo "gateway http clients: OK"
