#!/usr/bin/env bash
# TLS with the real binaries (docs/tls.md): records over mTLS with
# certificates of scripts/gen-certs.sh; reportctl is served with the CA and
# its certificate, and refused over plaintext, with another CA, or without a
# certificate; a server on a non-loopback address without TLS refuses to
# start unless --insecure; bad PEM files stop a server and reportctl with a
# message naming the flag.
#   tests/e2e/tls.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build="$(cd "${1:-build}" && pwd)"
bin="$build/services"
GR_RUN_DIR="$(mktemp -d)"
source scripts/lib.sh
trap 'gr_cleanup; rm -rf "$GR_RUN_DIR"' EXIT

gr_start_redis "$GR_RUN_DIR/redis"
gr_tls "$GR_RUN_DIR/certs"
scripts/gen-certs.sh "$GR_RUN_DIR/other" reportctl >/dev/null
gr_secrets
export GOVREPORT_TOKEN="$GOVREPORT_ADMIN_TOKEN"
export GOVREPORT_REDIS_URL="$(gr_redis_url records)"
port=$(gr_start_service records "$bin/records/records")
export GOVREPORT_RECORDS="127.0.0.1:$port"
ctl() { "$bin/reportctl/reportctl" "$@"; }

# ctl_code ENV... -- ARGS: reportctl's exit code with ENV set.
ctl_code() {
  local -a env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  local rc=0
  env "${env[@]}" "$bin/reportctl/reportctl" "$@" >"$GR_RUN_DIR/ctl.out" 2>"$GR_RUN_DIR/ctl.err" ||
    rc=$?
  echo "$rc"
}

ctl org create kjj --display-name "中共重庆市科学技术局党组" >/dev/null ||
  gr_fail "reportctl over mTLS was refused"
ctl org get kjj | grep -q kjj || gr_fail "reportctl over mTLS did not read the org back"
# With the name the certificate carries, given instead of the address's.
ctl --tls-server-name records org get kjj >/dev/null || gr_fail "--tls-server-name records refused"
echo "ok: reportctl over mTLS (CA, client certificate, server name)"

# Exit 4: the server could not be reached (no handshake), before any token.
[ "$(ctl_code GOVREPORT_TLS_CA= GOVREPORT_TLS_CERT= GOVREPORT_TLS_KEY= -- org get kjj)" = 4 ] ||
  gr_fail "plaintext against the TLS server: $(cat "$GR_RUN_DIR/ctl.err")"
[ "$(ctl_code "GOVREPORT_TLS_CA=$GR_RUN_DIR/other/ca.pem" -- org get kjj)" = 4 ] ||
  gr_fail "a CA that did not sign records: $(cat "$GR_RUN_DIR/ctl.err")"
[ "$(ctl_code GOVREPORT_TLS_CERT= GOVREPORT_TLS_KEY= -- org get kjj)" = 4 ] ||
  gr_fail "no client certificate against mTLS: $(cat "$GR_RUN_DIR/ctl.err")"
[ "$(ctl_code "GOVREPORT_TLS_CERT=$GR_RUN_DIR/other/reportctl.pem" \
  "GOVREPORT_TLS_KEY=$GR_RUN_DIR/other/reportctl.key" -- org get kjj)" = 4 ] ||
  gr_fail "a client certificate of another CA: $(cat "$GR_RUN_DIR/ctl.err")"
[ "$(ctl_code -- --tls-server-name approval org get kjj)" = 4 ] ||
  gr_fail "a server name the certificate does not carry: $(cat "$GR_RUN_DIR/ctl.err")"
echo "ok: plaintext, another CA, no or a foreign client certificate, a wrong name: refused (exit 4)"

# Bad files: exit 2 from reportctl, a message naming the flag.
echo "not a certificate" >"$GR_RUN_DIR/garbage.pem"
[ "$(ctl_code "GOVREPORT_TLS_CA=$GR_RUN_DIR/garbage.pem" -- org get kjj)" = 2 ] ||
  gr_fail "reportctl with a garbage CA file did not exit 2"
grep -q -- "--tls-ca $GR_RUN_DIR/garbage.pem: no PEM certificate" "$GR_RUN_DIR/ctl.err" ||
  gr_fail "reportctl's error does not name --tls-ca: $(cat "$GR_RUN_DIR/ctl.err")"
# A client certificate without a CA would send the token in clear.
[ "$(ctl_code GOVREPORT_TLS_CA= -- org get kjj)" = 2 ] ||
  gr_fail "reportctl with --tls-cert and no --tls-ca did not exit 2"
grep -q -- "need --tls-ca" "$GR_RUN_DIR/ctl.err" ||
  gr_fail "reportctl's error does not ask for --tls-ca: $(cat "$GR_RUN_DIR/ctl.err")"

# start_fails WHAT EXPECTED ARGS...: records with ARGS must exit non-zero
# at once, saying EXPECTED on stderr.
start_fails() {
  local what="$1" expected="$2" rc=0
  shift 2
  env GOVREPORT_TLS_CERT= GOVREPORT_TLS_KEY= GOVREPORT_TLS_CLIENT_CA= \
    timeout 30 "$bin/records/records" "$@" >"$GR_RUN_DIR/start.out" 2>"$GR_RUN_DIR/start.err" ||
    rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || gr_fail "records started with $what (rc $rc)"
  grep -q -- "$expected" "$GR_RUN_DIR/start.err" ||
    gr_fail "records with $what said: $(cat "$GR_RUN_DIR/start.err")"
}
certs="$GR_RUN_DIR/certs"
start_fails "plaintext on 0.0.0.0" "--insecure" --listen 0.0.0.0:0
grep -q -- "--tls-cert" "$GR_RUN_DIR/start.err" || gr_fail "the refusal does not name --tls-cert"
start_fails "a key that is not PEM" "--tls-key $GR_RUN_DIR/garbage.pem: no PEM private key" \
  --listen 127.0.0.1:0 --tls-cert "$certs/records.pem" --tls-key "$GR_RUN_DIR/garbage.pem"
start_fails "the key of another certificate" "is not the key of the certificate" \
  --listen 127.0.0.1:0 --tls-cert "$certs/records.pem" --tls-key "$certs/approval.key"
start_fails "a certificate without its key" "go together" \
  --listen 127.0.0.1:0 --tls-cert "$certs/records.pem"
start_fails "a missing certificate file" "cannot read it" \
  --listen 127.0.0.1:0 --tls-cert "$GR_RUN_DIR/missing.pem" --tls-key "$certs/records.key"
echo "ok: plaintext on 0.0.0.0 without --insecure, bad or half TLS files: records refuses to start"

# With --insecure it listens (the operator says something else encrypts).
(
  unset GOVREPORT_TLS_CERT GOVREPORT_TLS_KEY GOVREPORT_TLS_CLIENT_CA
  GR_CERTS=""
  gr_start_service insecure "$bin/records/records" --listen 0.0.0.0:0 --insecure >/dev/null
) || gr_fail "records --listen 0.0.0.0:0 --insecure did not start: $(cat "$GR_RUN_DIR/insecure.log")"
echo "ok: --insecure allows plaintext on 0.0.0.0"
