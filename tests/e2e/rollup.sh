#!/usr/bin/env bash
# A city body's roll-up with the real binaries, as its people and systems
# call it: redis-server, records and the gateway; the operator sets up the
# hierarchy with reportctl, each department's admin shares (or not), the
# departments import their records, and the city reads the roll-up with
# reportctl and with curl through the gateway.
#   tests/e2e/rollup.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build="$(cd "${1:-build}" && pwd)"
GR_RUN_DIR="$(mktemp -d)"
source scripts/lib.sh
trap 'gr_cleanup; rm -rf "$GR_RUN_DIR"' EXIT

gr_start_redis "$GR_RUN_DIR/redis"
gr_secrets
records=$(GOVREPORT_REDIS_URL="$(gr_redis_url records)" \
  gr_start_service records "$build/services/records/records")
port=$(gr_start_service gateway "$build/services/gateway/gateway" \
  --records "127.0.0.1:$records" --templates 127.0.0.1:1 --approval 127.0.0.1:1 \
  --assembler 127.0.0.1:1)
base="http://127.0.0.1:$port"
export GOVREPORT_RECORDS="127.0.0.1:$records"
ctl() { "$build/services/reportctl/reportctl" "$@"; }
op() { GOVREPORT_TOKEN="$GOVREPORT_ADMIN_TOKEN" ctl "$@"; }

profile=deploy/profiles/strict-governance/profile.json
python3 - "$profile" "$GR_RUN_DIR/city.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1], encoding="utf-8"))
p["id"] = "city-rollup"
p["rollup"] = True
json.dump(p, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
PY
op org create city --display-name "中共某市直属机关工作委员会" --short-name 市直机关工委 >/dev/null
op profile load city "$GR_RUN_DIR/city.json" >/dev/null
for dept in kjj:市科技局 jyj:市教育局; do
  id=${dept%%:*}
  op org create "$id" --display-name "中共某市${dept#*:}党组" --short-name "${dept#*:}" \
    --parent orgs/city >/dev/null
  op profile load "$id" "$profile" >/dev/null
done

kjj_admin=$(op token issue --org kjj --subject kjj-admin --roles admin --quiet)
kjj_recorder=$(GOVREPORT_TOKEN="$kjj_admin" ctl token issue --org kjj --subject kjj-oa \
  --roles recorder --kind service --quiet)
jyj_admin=$(op token issue --org jyj --subject jyj-admin --roles admin --quiet)
jyj_recorder=$(GOVREPORT_TOKEN="$jyj_admin" ctl token issue --org jyj --subject jyj-oa \
  --roles recorder --kind service --quiet)
city=$(op token issue --org city --subject city-auditor --roles auditor --quiet)

# kjj shares; jyj does not yet. A department may not attach itself to
# another body: only the operator sets a parent.
GOVREPORT_TOKEN="$kjj_admin" ctl org update kjj --share-figures yes | grep -q 'figures_shared_with_parent *yes' \
  || gr_fail "kjj share"
if GOVREPORT_TOKEN="$kjj_admin" ctl org update kjj --parent orgs/jyj >"$GR_RUN_DIR/move.txt" 2>&1; then
  gr_fail "a department changed its own parent"
fi
grep -q "only the platform operator" "$GR_RUN_DIR/move.txt" || gr_fail "move refused without reason: $(cat "$GR_RUN_DIR/move.txt")"

printf 'type,occurred_on,title,source_system,external_id\n' >"$GR_RUN_DIR/kjj.csv"
for i in 1 2 3; do printf 'theme_party_day,2023-0%d-10,主题党日,oa,k%d\n' "$i" "$i" >>"$GR_RUN_DIR/kjj.csv"; done
printf 'type,occurred_on,title,source_system,external_id\ntheme_party_day,2023-05-04,主题党日,oa,j1\n' \
  >"$GR_RUN_DIR/jyj.csv"
GOVREPORT_TOKEN="$kjj_recorder" ctl activity import kjj "$GR_RUN_DIR/kjj.csv" >/dev/null
GOVREPORT_TOKEN="$jyj_recorder" ctl activity import jyj "$GR_RUN_DIR/jyj.csv" >/dev/null

GOVREPORT_TOKEN="$city" ctl rollup city 2023 >"$GR_RUN_DIR/rollup.txt"
[ -n "${GR_SHOW:-}" ] && cat "$GR_RUN_DIR/rollup.txt"
grep -q '1 of 2 children included' "$GR_RUN_DIR/rollup.txt" || gr_fail "rollup: $(cat "$GR_RUN_DIR/rollup.txt")"
grep -Eq '^theme_party_days +3 ' "$GR_RUN_DIR/rollup.txt" || gr_fail "rollup total: $(cat "$GR_RUN_DIR/rollup.txt")"

# jyj's admin shares: the next read has both.
GOVREPORT_TOKEN="$jyj_admin" ctl org update jyj --share-figures yes >/dev/null
code=$(curl -s -o "$GR_RUN_DIR/rollup.json" -w '%{http_code}' -H "Authorization: Bearer $city" \
  "$base/v1/orgs/city/indicators:rollup?period=2023")
[ "$code" = 200 ] || gr_fail "GET rollup: $code $(cat "$GR_RUN_DIR/rollup.json")"
python3 - "$GR_RUN_DIR/rollup.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
states = {c["org"]: c["state"] for c in r["children"]}
assert states == {"orgs/jyj": "ROLLUP_CHILD_STATE_INCLUDED",
                  "orgs/kjj": "ROLLUP_CHILD_STATE_INCLUDED"}, states
v = next(v for v in r["values"] if v["total"]["key"] == "theme_party_days")
assert v["total"]["value"] == "4", v["total"]
shares = {s["org"]: s["value"]["value"] for s in v["shares"]}
assert shares == {"orgs/jyj": "1", "orgs/kjj": "3"}, shares
PY
# A department's token gets nothing of the city's roll-up.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $kjj_recorder" \
  "$base/v1/orgs/city/indicators:rollup?period=2023")
[ "$code" = 403 ] || gr_fail "kjj read the city's rollup: $code"
# Down to the department's records.
GOVREPORT_TOKEN="$city" ctl rollup provenance city theme_party_days kjj 2023 >"$GR_RUN_DIR/prov.txt"
grep -q 'from 3 record(s)' "$GR_RUN_DIR/prov.txt" || gr_fail "provenance: $(cat "$GR_RUN_DIR/prov.txt")"
# jyj revokes: gone at the next read, and so is its provenance.
GOVREPORT_TOKEN="$jyj_admin" ctl org update jyj --share-figures no >/dev/null
if GOVREPORT_TOKEN="$city" ctl rollup provenance city theme_party_days jyj 2023 >"$GR_RUN_DIR/denied.txt" 2>&1; then
  gr_fail "provenance of a department that revoked its grant"
fi
grep -q "does not share its figures" "$GR_RUN_DIR/denied.txt" || gr_fail "revoked: $(cat "$GR_RUN_DIR/denied.txt")"
echo "rollup e2e: OK"
