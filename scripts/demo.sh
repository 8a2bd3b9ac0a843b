#!/usr/bin/env bash
# The main job, end to end on this machine: installs what is missing, builds,
# starts a private Redis (AOF on) and the services on free ports, registers
# the reference bureau with the strict-governance profile, loads a year of
# sample records, and prints the bureau's 2023 figures with the number of
# records behind each.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/setup-deps.sh
scripts/build.sh records reportctl

GR_RUN_DIR="$root/build/demo"
rm -rf "$GR_RUN_DIR"; mkdir -p "$GR_RUN_DIR"
source scripts/lib.sh
trap gr_cleanup EXIT

t0=$(date +%s%N)
step() { local now; now=$(date +%s%N); gr_log "$* ($(( (now - t0) / 1000000 )) ms)"; t0=$now; }

gr_start_redis "$GR_RUN_DIR/redis"
export GOVREPORT_REDIS_URL="$GR_REDIS_URL"
export GOVREPORT_ADMIN_TOKEN="demo-operator-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
records_port=$(gr_start_service records build/services/records/records)
export GOVREPORT_RECORDS="127.0.0.1:$records_port"
step "redis on $GR_REDIS_PORT, records on $records_port"

ctl() { build/services/reportctl/reportctl "$@"; }
export GOVREPORT_TOKEN="$GOVREPORT_ADMIN_TOKEN"
ctl org create kjj --display-name "中共重庆市科学技术局党组" --short-name "市科技局" \
  --city "重庆" --district "渝北" >/dev/null
ctl profile load kjj deploy/profiles/strict-governance/profile.json
# The bureau's own people get their own tokens: a recorder loads the data.
recorder=$(ctl token issue --org kjj --subject oa-connector --kind service --roles recorder --quiet)
step "registered orgs/kjj with its profile"
GOVREPORT_TOKEN="$recorder" ctl sample load kjj --year 2023
step "loaded the 2023 sample records"
GOVREPORT_TOKEN="$recorder" ctl figures kjj 2023
step "computed the 2023 figures"
GOVREPORT_TOKEN="$recorder" ctl provenance kjj online_academy_completion_rate 2023
echo
echo "Logs and the Redis data of this run are in $GR_RUN_DIR"
