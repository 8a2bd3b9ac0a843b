#!/usr/bin/env bash
# An outside system's client in Python (docs/examples/python/oa_client.py),
# with stubs generated from proto/ by the system's protoc and gRPC plugin,
# against a real redis-server and the real records binary, over TLS with
# client certificates (mTLS, scripts/gen-certs.sh): the Python client dials
# with grpc.ssl_channel_credentials from GOVREPORT_TLS_CA/CERT/KEY.
#   tests/e2e/python_client.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build="$(cd "${1:-build}" && pwd)"
py=/usr/bin/python3  # Debian's python3-grpcio lives there
GR_RUN_DIR="$(mktemp -d)"
source scripts/lib.sh
trap 'gr_cleanup; rm -rf "$GR_RUN_DIR"' EXIT

stubs="$GR_RUN_DIR/stubs"
mkdir -p "$stubs"
# The API protos import google/api/annotations.proto (their HTTP routes,
# docs/gateway.md), from Debian's grpc-gateway package: on the include path,
# and generated too, since the generated modules import it.
googleapis=/usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis
protoc -I proto -I "$googleapis" --python_out="$stubs" --grpc_python_out="$stubs" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  $(find proto/govreport proto/google -name '*.proto') \
  "$googleapis/google/api/http.proto" "$googleapis/google/api/annotations.proto"

gr_start_redis "$GR_RUN_DIR/redis"
gr_tls "$GR_RUN_DIR/certs"
gr_secrets
port=$(GOVREPORT_REDIS_URL="$(gr_redis_url records)" \
  gr_start_service records "$build/services/records/records" \
  --metrics-listen 127.0.0.1:0)
metrics_port=$(gr_metrics_port records)
export GOVREPORT_RECORDS="127.0.0.1:$port"

ctl() { GOVREPORT_TOKEN="$GOVREPORT_ADMIN_TOKEN" "$build/services/reportctl/reportctl" "$@"; }
ctl org create kjj --display-name "中共重庆市科学技术局党组" >/dev/null
ctl profile load kjj deploy/profiles/strict-governance/profile.json >/dev/null
admin=$(ctl token issue --org kjj --subject kjj-admin --roles admin --quiet)
GOVREPORT_TOKEN=$(GOVREPORT_TOKEN="$admin" "$build/services/reportctl/reportctl" \
  token issue --org kjj --subject kjj-oa --roles recorder --kind service --quiet)
export GOVREPORT_TOKEN

PYTHONPATH="$stubs" "$py" docs/examples/python/oa_client.py kjj

# The real binary's metrics and logs (docs/observability.md): /metrics
# scraped with curl counts the client's calls, and every stderr line is one
# JSON object, none with a token in it.
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")
grep -Eq '^grpc_server_handled_total\{.*grpc_code="OK".*grpc_service="govreport.records.v1.ActivityService".*\} [1-9]' \
  <<<"$metrics" || gr_fail "no OK ActivityService calls in /metrics"
grep -q '^govreport_redis_call_seconds_count' <<<"$metrics" || gr_fail "no Redis metrics"
"$py" - "$GR_RUN_DIR/records.log" "$GOVREPORT_ADMIN_TOKEN" "$GOVREPORT_TOKEN" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
for secret in sys.argv[2:]:
    assert secret not in text, "a token is in the log"
# records still runs and may be writing a line: only whole lines count.
whole = text[: text.rfind("\n") + 1]
rpcs = 0
for line in whole.splitlines():
    obj = json.loads(line)
    assert {"time", "level", "service", "msg"} <= obj.keys(), line
    if "rpc" in obj:
        rpcs += 1
        assert {"request_id", "principal", "code", "latency_ms"} <= obj.keys(), line
assert rpcs > 0, "no access log lines"
print(f"records: {rpcs} access log lines, all JSON, no token")
PY
