#!/usr/bin/env bash
# The main job, end to end on this machine: installs what is missing, builds,
# starts a private Redis (AOF, fsync on every write) and the four services on
# free ports, registers two bureaus of one city with the strict-governance
# profile, a city-wide template and a three-step approval chain, loads a year
# of sample records for each, assembles the reports, lets the drafter write
# the narrative, submits, walks the chain (one leader first returns it with a
# comment; it is revised and resubmitted), signs it off, and writes the
# signed report to out/ as .txt, .md, .html, .docx, .pdf and .ofd. Prints how long each
# step took and every figure of the report with the records behind it.
#   scripts/demo.sh [--keep] [--no-build] [--cluster] [--out DIR]
#     --keep       leave the services running until Enter
#     --cluster    on a six-node Redis Cluster (three masters, three
#                  replicas) instead of one Redis
#     --no-build   use the binaries in build/ as they are (the end-to-end test)
#     --out DIR    where the signed report goes (default out/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep="" build=1 cluster="" out="$root/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --no-build) build="" ;;
    --cluster) cluster=1 ;;
    --out) out="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$build" ]; then
  scripts/setup-deps.sh
  scripts/build.sh records templates approval assembler reportctl
fi

GR_RUN_DIR="$out/run"
rm -rf "$GR_RUN_DIR"; mkdir -p "$GR_RUN_DIR"
source scripts/lib.sh
trap gr_cleanup EXIT

t0=$(date +%s%N)
step() {
  local now; now=$(date +%s%N)
  printf '  %-62s %6d ms\n' "$*" $(( (now - t0) / 1000000 ))
  t0=$now
}
bin=build/services
ctl() { "$bin/reportctl/reportctl" "$@"; }
as() { local token="$1"; shift; GOVREPORT_TOKEN="$token" ctl "$@"; }
# The assembler acts on approval events from a stream, a moment after the
# decision: wait for the state it leads to (30 s at most).
wait_state() {  # wait_state TOKEN REPORT STATE
  local i
  for i in $(seq 1 300); do
    as "$1" report show "$2" | grep -qE "^state +$3( |\$)" && return 0
    sleep 0.1
  done
  echo "  $2 did not become $3" >&2
  exit 1
}
token() {  # token ISSUER ORG SUBJECT ROLES [KIND [DISPLAY_NAME]]
  as "$1" token issue --org "$2" --subject "$3" --roles "$4" --kind "${5:-user}" \
    --display-name "${6:-}" --quiet
}

echo "== services"
if [ -n "$cluster" ]; then
  gr_start_redis_cluster "$GR_RUN_DIR/redis"
  redis_what="redis cluster :${GR_REDIS_PORTS[*]}"
else
  gr_start_redis "$GR_RUN_DIR/redis"
  redis_what="redis :$GR_REDIS_PORT"
fi
# Every link over TLS with client certificates (mTLS): a local CA and a
# certificate per service (scripts/gen-certs.sh); reportctl presents its own.
gr_tls "$GR_RUN_DIR/certs"
# The deployment's secret (page tokens, the audit chain): a file, never
# Redis; and the platform operator's token.
gr_secrets demo-operator
op="$GOVREPORT_ADMIN_TOKEN"
# Each service connects to Redis as its own ACL user (deploy/redis/users.acl.template),
# the password in its environment, never on a command line.
# A failed start stops the demo (a plain assignment keeps set -e's exit).
start() {  # start NAME BINARY
  GOVREPORT_REDIS_URL="$(gr_redis_url "$1")" gr_start_service "$1" "$2"
}
port=$(start records $bin/records/records); export GOVREPORT_RECORDS="127.0.0.1:$port"
# The assembler's workers act for every org with a service token.
svc=$(token "$op" '*' assembler-worker service service); export GOVREPORT_SERVICE_TOKEN="$svc"
port=$(start templates $bin/templates/templates); export GOVREPORT_TEMPLATES="127.0.0.1:$port"
port=$(start approval $bin/approval/approval); export GOVREPORT_APPROVAL="127.0.0.1:$port"
port=$(start assembler $bin/assembler/assembler); export GOVREPORT_ASSEMBLER="127.0.0.1:$port"
step "$redis_what, records $GOVREPORT_RECORDS, templates, approval, assembler (TLS)"
# Plaintext, a CA that did not sign the servers, or no client certificate:
# each refused before any token crosses the link, reportctl's exit 4 (no
# connection; tests/e2e/tls.sh checks more cases).
scripts/gen-certs.sh "$GR_RUN_DIR/other-ca" reportctl >/dev/null
for refused in "GOVREPORT_TLS_CA= GOVREPORT_TLS_CERT= GOVREPORT_TLS_KEY=" "GOVREPORT_TLS_CA=$GR_RUN_DIR/other-ca/ca.pem" \
  "GOVREPORT_TLS_CERT= GOVREPORT_TLS_KEY="; do
  rc=0
  env $refused GOVREPORT_TOKEN="$op" "$bin/reportctl/reportctl" org list >/dev/null 2>&1 || rc=$?
  [ "$rc" = 4 ] || { echo "  TLS: reportctl with '$refused' exited $rc, not 4" >&2; exit 1; }
done
GOVREPORT_TOKEN="$op" ctl org list >/dev/null
step "TLS: reportctl served with the CA and its certificate; plaintext, wrong CA, none refused"

echo "== the city and its two bureaus"
as "$op" template create shared strict-governance-base deploy/profiles/strict-governance/base.mustache \
  --description "党组落实全面从严治党责任工作报告（市级通用模板）" >/dev/null
as "$op" template create shared government-information-disclosure-base \
  deploy/profiles/government-information-disclosure/base.mustache \
  --description "政府信息公开工作年度报告（国办公开办函〔2019〕60号格式）" >/dev/null
declare -A admin drafter office deputy1 deputy2 secretary recorder
setup_people() {  # org template: tokens, roles, the workflow bound to the template
  local org="$1"
  admin[$org]=$(token "$op" "$org" "$org-admin" admin)
  recorder[$org]=$(token "${admin[$org]}" "$org" "$org-oa" recorder service)
  drafter[$org]=$(token "${admin[$org]}" "$org" "$org-zhang" drafter user 张丽)
  office[$org]=$(token "${admin[$org]}" "$org" "$org-li" approver user 李强)
  deputy1[$org]=$(token "${admin[$org]}" "$org" "$org-wang" approver user 王刚)
  deputy2[$org]=$(token "${admin[$org]}" "$org" "$org-zhao" approver user 赵敏)
  secretary[$org]=$(token "${admin[$org]}" "$org" "$org-chen" approver user 陈明)
  as "${admin[$org]}" role set "$org" office-director --members "$org-li" >/dev/null
  as "${admin[$org]}" role set "$org" deputy-leader --members "$org-wang,$org-zhao" >/dev/null
  as "${admin[$org]}" role set "$org" party-secretary --members "$org-chen" >/dev/null
  as "${admin[$org]}" workflow create "$org" annual-report deploy/demo/workflow.json >/dev/null
  # Only the admin decides which approval path the annual report takes.
  as "${admin[$org]}" report bind-workflows "$org" "$2" annual-report >/dev/null
}
setup_org() {  # org display short seed
  local org="$1"
  as "$op" org create "$org" --display-name "$2" --short-name "$3" --city 重庆 --district 渝北 \
    --fact purged_influence=孙政才 --fact case_lessons=蔡家福 \
    --fact "municipal_inspection_target=$3" >/dev/null
  as "$op" profile load "$org" deploy/profiles/strict-governance/profile.json >/dev/null
  setup_people "$org" templates/strict-governance-base
  as "${recorder[$org]}" sample load "$org" --year 2023 --seed "$4" >/dev/null
}
setup_org kjj "中共重庆市科学技术局党组" "市科技局" 2023
# The party group's report goes up to the city's party committee (上行文):
# its 版头, 发文字号 register and 版记.
as "${admin[kjj]}" settings set kjj --issuing-mark 中共重庆市科学技术局党组 --code 渝科党 \
  --main-recipients 中共重庆市委 --copy-to "市纪委监委驻市科技局纪检监察组" \
  --printing-org 中共重庆市科学技术局党组办公室 --upward true >/dev/null
# Its SM2 signing key: every publication from now on is signed.
as "${admin[kjj]}" key create kjj >/dev/null
step "市科技局 (kjj): profile, tokens, roles, workflow bound to the template, 版头 settings (渝科党), an SM2 signing key, a year of records"
setup_org jyj "中共重庆市教育委员会党组" "市教委" 7
step "市教委 (jyj): the same, its own records and approvers (no 版头 settings: the body alone)"

# The city's 市直机关工委 rolls up the bodies that report to it: the operator
# sets the hierarchy, each body's admin shares its figures (docs/records.md,
# "Roll-up").
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p["id"]="city-rollup"; p["rollup"]=True; json.dump(p,open(sys.argv[2],"w"),ensure_ascii=False)' \
  deploy/profiles/strict-governance/profile.json "$GR_RUN_DIR/city-profile.json"
as "$op" org create szjg --display-name 中共重庆市直属机关工作委员会 --short-name 市直机关工委 \
  --city 重庆 >/dev/null
as "$op" profile load szjg "$GR_RUN_DIR/city-profile.json" >/dev/null
for org in kjj jyj; do
  as "$op" org update "$org" --parent orgs/szjg >/dev/null
  as "${admin[$org]}" org update "$org" --share-figures yes >/dev/null
done
city_auditor=$(token "$op" szjg szjg-audit auditor user 市直机关工委)
as "$city_auditor" rollup szjg 2023 >"$out/szjg-rollup-2023.txt"
grep -q '2 of 2 children included' "$out/szjg-rollup-2023.txt" \
  || { echo "  ROLLUP: $(head -1 "$out/szjg-rollup-2023.txt")" >&2; exit 1; }
step "市直机关工委 (szjg) rolls up kjj and jyj: reportctl rollup szjg 2023 → szjg-rollup-2023.txt"

echo "== 市科技局 drafts its 2023 report"
report=orgs/kjj/reports/annual-2023
as "${drafter[kjj]}" report create kjj 2023 --id annual-2023 \
  --template templates/strict-governance-base --workflow orgs/kjj/workflows/annual-report \
  --title "市科技局党组落实全面从严治党责任工作报告" \
  --narrative problems=@deploy/demo/problems.txt --narrative next_steps=@deploy/demo/next_steps.txt \
  --wait >/dev/null
step "assembled the draft (figures from records, rendered by templates)"
as "${drafter[kjj]}" report submit "$report" >/dev/null
step "submitted: 拟稿 → 办公室主任审核"
as "${office[kjj]}" report approve "$report" --comment "同意，报分管领导" >/dev/null
step "办公室主任 approved"
as "${deputy1[kjj]}" report approve "$report" --comment "同意" >/dev/null
as "${deputy2[kjj]}" report reject "$report" \
  --comment "存在问题部分请补充“以案促改”落实不够的情况" >/dev/null
wait_state "${drafter[kjj]}" "$report" DRAFT
step "分管领导会签: one approved, the other returned it with a comment"
as "${drafter[kjj]}" report show "$report" | grep -E "state|comment" | head -4 || true
# The drafter revises the narrative; the report is reassembled.
sed 's/三是警示教育方式方法还不够丰富/三是警示教育方式方法还不够丰富，“以案促改”落实还不够到位/' \
  deploy/demo/problems.txt > "$GR_RUN_DIR/problems-v2.txt"
as "${drafter[kjj]}" report narrative "$report" --narrative "problems=@$GR_RUN_DIR/problems-v2.txt" \
  --wait >/dev/null
step "drafter revised 存在问题; reassembled"
as "${drafter[kjj]}" report submit "$report" >/dev/null
as "${office[kjj]}" report approve "$report" >/dev/null
as "${deputy1[kjj]}" report approve "$report" >/dev/null
as "${deputy2[kjj]}" report approve "$report" >/dev/null
step "resubmitted; 办公室主任 and both 分管领导 approved"
as "${secretary[kjj]}" report approve "$report" --comment "签发" >/dev/null
as "${drafter[kjj]}" report watch "$report" --timeout-ms 60000 >/dev/null
step "党组书记签发; published (成文日期 from the sign-off, digests)"

for f in txt md html docx pdf ofd; do
  as "${drafter[kjj]}" report download "$report" --format "$f" --out "$out/kjj-2023.$f" \
    >/dev/null 2>"$GR_RUN_DIR/download.txt"
  # The published digest must be the digest of the bytes served.
  served=$(sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p' "$GR_RUN_DIR/download.txt")
  actual=$(sha256sum "$out/kjj-2023.$f" | cut -d' ' -f1)
  [ -n "$served" ] && [ "$served" = "$actual" ] || { echo "digest mismatch for $f" >&2; exit 1; }
done
step "downloaded kjj-2023.{txt,md,html,docx,pdf,ofd}; each digest matches its bytes"
as "${drafter[kjj]}" report verify "$report" "$out"/kjj-2023.{txt,md,html,docx,pdf,ofd} \
  --export "$out/kjj-2023-signature" | grep -E "VALID|signed by" | sed 's/^/    /'
# What a recipient without reportctl runs: openssl checks the signature over
# the manifest, sha256sum each file against its line.
sig="$out/kjj-2023-signature"
openssl dgst -sm3 -verify "$sig/public-key.pem" -sigopt distid:1234567812345678 \
  -signature "$sig/signature.der" "$sig/manifest.txt" | sed 's/^/    openssl: /'
for f in txt md html docx pdf ofd; do
  grep -q "^${f^^} $(sha256sum "$out/kjj-2023.$f" | cut -d' ' -f1)\$" "$sig/manifest.txt" ||
    { echo "kjj-2023.$f is not in the signed manifest" >&2; exit 1; }
done
# The OFD carries the same key's signature inside (GB/T 38540 structure):
# SignedValue.dat is the SM2 signature of Signature.xml, which lists the SM3
# digest of every other part.
ofd_sig=$(mktemp -d)
unzip -q "$out/kjj-2023.ofd" 'Doc_0/Signs/*' -d "$ofd_sig"
openssl dgst -sm3 -verify "$sig/public-key.pem" -sigopt distid:1234567812345678 \
  -signature "$ofd_sig/Doc_0/Signs/Sign_0/SignedValue.dat" \
  "$ofd_sig/Doc_0/Signs/Sign_0/Signature.xml" | sed 's/^/    openssl (inside the OFD): /'
rm -rf "$ofd_sig"
step "each document verifies against kjj's SM2 signature, with reportctl and with openssl alone"
as "${admin[kjj]}" docnumber list kjj | sed 's/^/    /'
step "发文字号 allocated at sign-off from kjj's register"

echo "== 市教委 runs its own report beside it, on the same city-wide template"
as "${drafter[jyj]}" report create jyj 2023 --id annual-2023 \
  --template templates/strict-governance-base --workflow orgs/jyj/workflows/annual-report \
  --narrative problems=@deploy/demo/problems.txt --narrative next_steps=@deploy/demo/next_steps.txt \
  --wait >/dev/null
as "${drafter[jyj]}" report submit orgs/jyj/reports/annual-2023 >/dev/null
for who in office deputy1 deputy2 secretary; do
  eval "t=\${$who[jyj]}"
  as "$t" report approve orgs/jyj/reports/annual-2023 >/dev/null
done
as "${drafter[jyj]}" report watch orgs/jyj/reports/annual-2023 --timeout-ms 60000 >/dev/null
as "${drafter[jyj]}" report download orgs/jyj/reports/annual-2023 --format txt --out "$out/jyj-2023.txt" >/dev/null
step "市教委's report published: jyj-2023.txt"
echo "  isolation: 市教委's drafter asks for 市科技局's report and records:"
if as "${drafter[jyj]}" report show "$report" >/dev/null 2>"$GR_RUN_DIR/denied.txt"; then
  echo "  LEAK: jyj read kjj's report" >&2; exit 1
fi
echo "    $(cat "$GR_RUN_DIR/denied.txt")"
if as "${drafter[jyj]}" figures kjj 2023 >/dev/null 2>"$GR_RUN_DIR/denied.txt"; then
  echo "  LEAK: jyj read kjj's figures" >&2; exit 1
fi
echo "    $(cat "$GR_RUN_DIR/denied.txt")"

echo "== 市科技局 (the bureau, kjjzf) publishes its 政府信息公开工作年度报告: a genre of tables"
gov=orgs/kjjzf/reports/disclosure-2023
as "$op" org create kjjzf --display-name 重庆市科学技术局 --short-name 市科技局 --city 重庆 \
  --fact portal=重庆市科学技术局门户网站 --fact "contact=市科技局办公室，023-12345678" >/dev/null
as "$op" profile load kjjzf deploy/profiles/government-information-disclosure/profile.json >/dev/null
setup_people kjjzf templates/government-information-disclosure-base
# The bureau's documents carry its seal (a sample image: a ring and a star).
python3 scripts/sample_seal.py "$GR_RUN_DIR/kjjzf-seal.png"
as "${admin[kjjzf]}" settings set kjjzf --issuing-mark 重庆市科学技术局 --code 渝科 \
  --printing-org 重庆市科学技术局办公室 --sealed true --seal-image "$GR_RUN_DIR/kjjzf-seal.png" >/dev/null
as "${recorder[kjjzf]}" activity import kjjzf \
  deploy/profiles/government-information-disclosure/sample-2023.jsonl >/dev/null
step "kjjzf: the disclosure profile (dimensions: applicant type, outcome ...), its settings and seal, a year of requests"
narr=deploy/demo/disclosure
as "${drafter[kjjzf]}" report create kjjzf 2023 --id disclosure-2023 \
  --template templates/government-information-disclosure-base \
  --workflow orgs/kjjzf/workflows/annual-report \
  --narrative "overview=@$narr/overview.txt" --narrative "active_disclosure=@$narr/active_disclosure.txt" \
  --narrative "problems=@$narr/problems.txt" --narrative "other_matters=@$narr/other_matters.txt" \
  --wait >/dev/null
as "${drafter[kjjzf]}" report submit "$gov" >/dev/null
for who in office deputy1 deputy2 secretary; do
  eval "t=\${$who[kjjzf]}"
  as "$t" report approve "$gov" >/dev/null
done
as "${drafter[kjjzf]}" report watch "$gov" --timeout-ms 60000 >/dev/null
for f in txt md html docx pdf ofd; do
  as "${drafter[kjjzf]}" report download "$gov" --format "$f" --out "$out/kjjzf-disclosure-2023.$f" >/dev/null
done
step "published kjjzf-disclosure-2023.{txt,md,html,docx,pdf,ofd}: tables broken down by applicant type"
# The seal is printed over the 署名 and 成文日期: one image (and its mask) in the PDF.
if command -v pdfimages >/dev/null; then
  images=$(pdfimages -list "$out/kjjzf-disclosure-2023.pdf" | awk 'NR > 2 && $3 == "image"' | wc -l)
  [ "$images" -eq 1 ] || { echo "the sealed PDF has $images images, not the seal" >&2; exit 1; }
  step "the PDF carries the seal image over the 署名 and 成文日期"
fi
# The OFD (GB/T 33190): every XML part well-formed, the seal an image resource.
if command -v unzip >/dev/null && command -v xmllint >/dev/null; then
  ofd="$out/kjjzf-disclosure-2023.ofd"
  for part in $(unzip -Z1 "$ofd" | grep '\.xml$'); do
    unzip -p "$ofd" "$part" | xmllint --noout - ||
      { echo "$part of the OFD is not well-formed" >&2; exit 1; }
  done
  unzip -Z1 "$ofd" | grep -q '^Doc_0/Res/image_[0-9]*\.png$' ||
    { echo "the sealed OFD has no seal image" >&2; exit 1; }
  step "the OFD's $(unzip -Z1 "$ofd" | grep -c '/Content\.xml$') pages are well-formed OFD XML; the seal is its image resource"
fi
# One cell of the big table traced to its records: （一）予以公开 × 自然人.
cell=$(grep -m1 '（一）予以公开' "$out/kjjzf-disclosure-2023.txt" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
behind=$(as "${drafter[kjjzf]}" provenance kjjzf result_granted 2023 --breakdown-value 自然人 |
  sed -n 's/.* from \([0-9]*\) record(s)$/\1/p')
[ -n "$cell" ] && [ "$cell" = "$behind" ] ||
  { echo "  the cell 予以公开/自然人 reads '$cell' but $behind record(s) are behind it" >&2; exit 1; }
step "the cell 予以公开 × 自然人 ($cell) is the $behind records behind it (reportctl provenance --breakdown-value)"

if [ -n "$cluster" ]; then
  # The orgs' keys sit in their orgs' slots, spread over the masters.
  spread="" holding=0
  for node in "${GR_REDIS_PORTS[@]}"; do
    GR_REDIS_PORT=$node gr_redis_cli admin role | head -1 | grep -q master || continue
    keys=$(GR_REDIS_PORT=$node gr_redis_cli admin dbsize)
    spread="$spread :$node=$keys"
    [ "$keys" -gt 0 ] && holding=$((holding + 1))
  done
  GR_REDIS_PORT="${GR_REDIS_PORTS[0]}"
  [ "$holding" -ge 2 ] || { echo "  the cluster's keys are not spread: $spread" >&2; exit 1; }
  step "Redis Cluster: keys per master$spread"
fi
echo "  Redis: no service was refused a command all along (ACL LOG is empty);"
for node in "${GR_REDIS_PORTS[@]:-$GR_REDIS_PORT}"; do  # every node of a cluster
  denied=$(GR_REDIS_PORT=$node gr_redis_cli admin ACL LOG)
  [ -z "$denied" ] || { echo "  REDIS ACL refused a service's command: $denied" >&2; exit 1; }
done
echo "  and a service's user may not wipe or list the database:"
for user in records templates approval assembler; do
  for cmd in FLUSHALL KEYS CONFIG; do
    case "$cmd" in
      KEYS) answer=$(gr_redis_cli "$user" KEYS '*' 2>&1 || true) ;;
      CONFIG) answer=$(gr_redis_cli "$user" CONFIG GET requirepass 2>&1 || true) ;;
      *) answer=$(gr_redis_cli "$user" "$cmd" 2>&1 || true) ;;
    esac
    case "$answer" in
      NOPERM*) ;;
      *) echo "  REDIS ACL: $user ran $cmd: $answer" >&2; exit 1 ;;
    esac
  done
done
answer=$(redis-cli -p "$GR_REDIS_PORT" GET gr:orgs 2>&1 || true)
case "$answer" in
  NOAUTH*) ;;
  *) echo "  REDIS ACL: a connection without AUTH read gr:orgs: $answer" >&2; exit 1 ;;
esac
echo "    FLUSHALL, KEYS *, CONFIG GET: NOPERM for records, templates, approval, assembler; no AUTH: NOAUTH"

echo "== the published report"
as "${drafter[kjj]}" report show "$report" | head -20
echo
echo "Figures of 市科技局's 2023 report, and the records behind each:"
as "${drafter[kjj]}" figures kjj 2023
seed=../shared/seed/000_4ee805bd7a2c2789.txt
if [ -f "$seed" ]; then
  python3 tests/e2e/check_report.py "$seed" "$out/kjj-2023.txt"
else
  grep -q '\*' "$out/kjj-2023.txt" && { echo "a '*' is left in the report" >&2; exit 1; }
  echo "check: every slot filled (no reference report here to compare the wording with)"
fi
echo
echo
echo "The city's roll-up of both bodies (first lines of $out/szjg-rollup-2023.txt):"
head -12 "$out/szjg-rollup-2023.txt"
echo
echo "Signed reports: $out/kjj-2023.{txt,md,html,docx,pdf,ofd} and $out/kjjzf-disclosure-2023.{txt,md,html,docx,pdf,ofd}; logs and Redis data: $GR_RUN_DIR"
if [ -n "$keep" ]; then
  echo "Services keep running (records $GOVREPORT_RECORDS, assembler $GOVREPORT_ASSEMBLER); Enter stops them."
  echo "Over TLS: reportctl needs GOVREPORT_TLS_CA=$GOVREPORT_TLS_CA" \
    "GOVREPORT_TLS_CERT=$GOVREPORT_TLS_CERT GOVREPORT_TLS_KEY=$GOVREPORT_TLS_KEY"
  read -r _
fi
