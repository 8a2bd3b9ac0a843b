#!/usr/bin/env bash
# `reportctl report watch` across an assembler restart, with the real
# binaries: a watch is open on a report, the assembler gets SIGTERM (its
# streams must end UNAVAILABLE, not OK) and starts again on the same port;
# the watch reconnects (one line on stderr), prints the changes made after
# the restart, each version once, and exits 0 when the report is published.
# Every wait is on a condition with a generous bound, never on time.
#   tests/e2e/watch_restart.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build="$(cd "${1:-build}" && pwd)"
bin="$build/services"
GR_RUN_DIR="$(mktemp -d)"
source scripts/lib.sh
watch_pid=""
trap '[ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null; gr_cleanup; rm -rf "$GR_RUN_DIR"' EXIT

# gr_fail shows these too.
GR_FAIL_LOGS=(watch.out watch.err assembler.log assembler2.log)
# wait_for WHAT COMMAND...: until COMMAND succeeds, at most 120 s.
wait_for() {
  local what="$1" i
  shift
  for i in $(seq 1 1200); do
    "$@" && return 0
    sleep 0.1
  done
  gr_fail "gave up waiting for $what"
}

ctl() { "$bin/reportctl/reportctl" "$@"; }
as() { local token="$1"; shift; GOVREPORT_TOKEN="$token" ctl "$@"; }
token() {  # token ISSUER ORG SUBJECT ROLES [KIND]
  as "$1" token issue --org "$2" --subject "$3" --roles "$4" --kind "${5:-user}" --quiet
}
start() {  # start NAME BINARY
  GOVREPORT_REDIS_URL="$(gr_redis_url "$1")" gr_start_service "$1" "$2"
}

gr_start_redis "$GR_RUN_DIR/redis"
gr_secrets
op="$GOVREPORT_ADMIN_TOKEN"
port=$(start records "$bin/records/records"); export GOVREPORT_RECORDS="127.0.0.1:$port"
svc=$(token "$op" '*' assembler-worker service service); export GOVREPORT_SERVICE_TOKEN="$svc"
port=$(start templates "$bin/templates/templates"); export GOVREPORT_TEMPLATES="127.0.0.1:$port"
port=$(start approval "$bin/approval/approval"); export GOVREPORT_APPROVAL="127.0.0.1:$port"
asm_port=$(start assembler "$bin/assembler/assembler")
export GOVREPORT_ASSEMBLER="127.0.0.1:$asm_port"
asm_pid=$(tail -n 1 "$GR_RUN_DIR/service.pids")

# One org, one template, a one-step workflow, a year of records, a report.
as "$op" template create shared base deploy/profiles/strict-governance/base.mustache >/dev/null
as "$op" org create kjj --display-name "中共重庆市科学技术局党组" --short-name "市科技局" \
  --city 重庆 --district 渝北 --fact purged_influence=孙政才 --fact case_lessons=蔡家福 \
  --fact "municipal_inspection_target=市科技局" >/dev/null
as "$op" profile load kjj deploy/profiles/strict-governance/profile.json >/dev/null
admin=$(token "$op" kjj kjj-admin admin)
recorder=$(token "$admin" kjj kjj-oa recorder service)
drafter=$(token "$admin" kjj kjj-zhang drafter)
secretary=$(token "$admin" kjj kjj-chen approver)
as "$admin" role set kjj party-secretary --members kjj-chen >/dev/null
cat >"$GR_RUN_DIR/workflow.json" <<'EOF'
{"displayName": "签发", "steps": [{"name": "sign", "displayName": "党组书记签发",
 "kind": "SIGN_OFF", "mode": "ANY", "roles": ["party-secretary"]}]}
EOF
as "$admin" workflow create kjj sign "$GR_RUN_DIR/workflow.json" >/dev/null
as "$admin" report bind-workflows kjj templates/base sign >/dev/null
as "$recorder" sample load kjj --year 2023 --seed 2023 >/dev/null
report=orgs/kjj/reports/w
as "$drafter" report create kjj 2023 --id w --template templates/base \
  --workflow orgs/kjj/workflows/sign --narrative problems=@deploy/demo/problems.txt \
  --narrative next_steps=@deploy/demo/next_steps.txt --wait >/dev/null

# The watch, then the restart under it.
GOVREPORT_TOKEN="$drafter" "$bin/reportctl/reportctl" --timeout-ms 300000 report watch "$report" \
  >"$GR_RUN_DIR/watch.out" 2>"$GR_RUN_DIR/watch.err" &
watch_pid=$!
has_lines() { [ "$(grep -c ' v[0-9]' "$GR_RUN_DIR/watch.out")" -ge "$1" ]; }
wait_for "the watch's first line" has_lines 1
before=$(grep -c ' v[0-9]' "$GR_RUN_DIR/watch.out")

kill -TERM "$asm_pid"
gone() { ! kill -0 "$asm_pid" 2>/dev/null; }
wait_for "the assembler to exit on SIGTERM" gone
kill -0 "$watch_pid" 2>/dev/null || gr_fail "the watch ended with the assembler"

GOVREPORT_REDIS_URL="$(gr_redis_url assembler)" "$bin/assembler/assembler" \
  --listen "127.0.0.1:$asm_port" >"$GR_RUN_DIR/assembler2.log.out" 2>"$GR_RUN_DIR/assembler2.log" &
echo $! >>"$GR_RUN_DIR/service.pids"
listening() { grep -q "listening on port" "$GR_RUN_DIR/assembler2.log.out"; }
wait_for "the assembler to start again" listening
again() { grep -q "watching $report again" "$GR_RUN_DIR/watch.err"; }
wait_for "the watch to reconnect" again
# It knew to reconnect because the stream ended UNAVAILABLE (SHUTTING_DOWN).
grep -q "UNAVAILABLE: server shutting down" "$GR_RUN_DIR/watch.err" ||
  gr_fail "the stream did not end UNAVAILABLE on SIGTERM"
[ "$(grep -c "again" "$GR_RUN_DIR/watch.err")" -eq 1 ] || gr_fail "more than one reconnect notice"

# Changes after the restart reach the watch: a new revision, then publication.
as "$drafter" report narrative "$report" --narrative "problems=问题一。" --wait >/dev/null
revised() { grep -q 'revision 2$' "$GR_RUN_DIR/watch.out"; }
wait_for "the watch to print revision 2" revised
as "$drafter" report submit "$report" >/dev/null
as "$secretary" report approve "$report" --comment 签发 >/dev/null
ended() { ! kill -0 "$watch_pid" 2>/dev/null; }
wait_for "the watch to end on PUBLISHED" ended
rc=0
wait "$watch_pid" || rc=$?
watch_pid=""
[ "$rc" -eq 0 ] || gr_fail "the watch exited $rc"
grep -q PUBLISHED "$GR_RUN_DIR/watch.out" || gr_fail "the watch did not print PUBLISHED"
# The reconnected stream started with the report already printed: not again.
dups=$(sed -n 's/.* v\([0-9]*\) .*/\1/p' "$GR_RUN_DIR/watch.out" | sort | uniq -d)
[ -z "$dups" ] || gr_fail "versions printed twice: $dups"
after=$(grep -c ' v[0-9]' "$GR_RUN_DIR/watch.out")
[ "$after" -gt "$before" ] || gr_fail "nothing printed after the restart"
echo "ok: the watch reconnected after the restart, printed $((after - before)) change(s), exited 0"
