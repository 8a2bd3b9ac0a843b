# Shared shell helpers: free ports, a private redis-server, services started
# on free ports, and cleanup of everything started. Source it.

GR_PIDS=()
GR_RUN_DIR="${GR_RUN_DIR:-}"

gr_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# gr_fail MESSAGE: "FAIL: MESSAGE" on stderr, the last lines of each file of
# GR_FAIL_LOGS (names in GR_RUN_DIR) that exists, then exit 1.
GR_FAIL_LOGS=()
gr_fail() {
  local f
  echo "FAIL: $*" >&2
  for f in "${GR_FAIL_LOGS[@]:-}"; do
    [ -n "$f" ] && [ -f "$GR_RUN_DIR/$f" ] && { echo "--- $f" >&2; tail -n 30 "$GR_RUN_DIR/$f" >&2; }
  done
  exit 1
}

# gr_secrets [PREFIX]: the deployment's secret key in GR_RUN_DIR/secret.key
# (GOVREPORT_SECRET_KEY_FILE) and a fresh operator token
# (GOVREPORT_ADMIN_TOKEN, PREFIX-<24 hex digits>, PREFIX default "op"),
# both exported for the services started after it.
gr_secrets() {
  (umask 077; head -c 32 /dev/urandom | base64 >"$GR_RUN_DIR/secret.key")
  export GOVREPORT_SECRET_KEY_FILE="$GR_RUN_DIR/secret.key"
  # The assembler seals the orgs' private signing keys under this one.
  (umask 077; openssl rand -hex 32 >"$GR_RUN_DIR/signing-master.key")
  export GOVREPORT_SIGNING_MASTER_KEY_FILE="$GR_RUN_DIR/signing-master.key"
  GOVREPORT_ADMIN_TOKEN="${1:-op}-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export GOVREPORT_ADMIN_TOKEN
}

gr_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

gr_free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    gr_port_in_use "$p" || { echo "$p"; return; }
  done
}

gr_cleanup() {
  local pid
  # Services are started inside $(...) to hand back their port, so their
  # pids come from the file they wrote, not from GR_PIDS.
  if [ -n "$GR_RUN_DIR" ] && [ -f "$GR_RUN_DIR/service.pids" ]; then
    while read -r pid; do GR_PIDS+=("$pid"); done <"$GR_RUN_DIR/service.pids"
    rm -f "$GR_RUN_DIR/service.pids"
  fi
  for pid in "${GR_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${GR_PIDS[@]:-}"; do
    # Polled, since a pid from the file is no child of this shell; one that
    # has not stopped 20 s after SIGTERM is killed, so that a stuck process
    # fails its test instead of hanging it.
    [ -n "$pid" ] || continue
    local polls=0
    while gr_alive "$pid"; do
      if [ "$polls" -ge 400 ]; then
        gr_log "pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) still running 20 s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.05
      polls=$((polls + 1))
    done
    wait "$pid" 2>/dev/null || true  # reaps a child
  done
  GR_PIDS=()
}

# Whether process $1 runs (a zombie, exited but not yet reaped, does not).
gr_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat="${stat##*) }"  # the state letter follows "pid (comm) "
  [ "${stat:0:1}" != Z ]
}

# The generated Redis passwords, by ACL user (lower case), for gr_redis_url
# and gr_redis_cli.
declare -A GR_REDIS_PASSWORDS=()

# gr_redis_url USER → redis://USER:PASSWORD@127.0.0.1:PORT of the Redis that
# gr_start_redis started.
gr_redis_url() {
  echo "redis://$1:${GR_REDIS_PASSWORDS[$1]}@127.0.0.1:$GR_REDIS_PORT"
}

# gr_redis_cli USER ARGS...: redis-cli as USER (the password from the
# environment, not the command line).
gr_redis_cli() {
  local user="$1"; shift
  REDISCLI_AUTH="${GR_REDIS_PASSWORDS[$user]}" redis-cli -p "$GR_REDIS_PORT" --user "$user" "$@"
}

# gr_start_redis DIR → sets GR_REDIS_PORT. Loopback only, AOF with fsync
# every write (what the project recommends for production,
# docs/operations.md), and the ACL of deploy/redis/users.acl.template with
# generated passwords, rendered into DIR/users.acl by the redis image's own
# entry point (deploy/docker/redis-entrypoint.sh): each service connects
# with its own user (gr_redis_url records), and a connection without AUTH
# can do nothing.
gr_start_redis() {
  local dir="$1" root name pass
  root="$(dirname "${BASH_SOURCE[0]}")/.."
  local template="$root/deploy/redis/users.acl.template"
  local -a env=("GOVREPORT_REDIS_ACL_TEMPLATE=$template" "GOVREPORT_REDIS_ACL=$dir/users.acl")
  mkdir -p "$dir"
  for name in $(grep -o '@[A-Z]*_PASSWORD@' "$template" | sort -u | sed 's/@\([A-Z]*\)_PASSWORD@/\1/'); do
    pass=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    GR_REDIS_PASSWORDS[${name,,}]="$pass"
    env+=("REDIS_${name}_PASSWORD=$pass")
  done
  # A free port can be taken by another test between the check and the
  # bind: a server that exits at once is started again on another port.
  local attempt i pid
  for attempt in 1 2 3; do
    GR_REDIS_PORT=$(gr_free_port)
    env "${env[@]}" "$root/deploy/docker/redis-entrypoint.sh" --port "$GR_REDIS_PORT" \
      --bind 127.0.0.1 --protected-mode yes --dir "$dir" --appendonly yes --appendfsync always \
      --save "" --logfile "$dir/redis.log" &
    pid=$!
    GR_PIDS+=("$pid")
    # Up to 30 s: a loaded machine (CI runs clang-tidy beside the tests)
    # can be slow to start a process; the loop ends as soon as it answers.
    for i in $(seq 1 600); do
      [ "$(gr_redis_cli admin ping 2>/dev/null)" = PONG ] && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && break  # running but not answering: give up
  done
  gr_log "redis-server did not start (see $dir/redis.log)"
  return 1
}

# gr_start_redis_cluster DIR → a six-node Redis Cluster (three masters, one
# replica each) on loopback, each node as gr_start_redis starts one (AOF
# with fsync on every write, the rendered ACL, the same passwords), the
# replicas authenticating to their masters as admin. Sets GR_REDIS_PORT (the
# first node, for gr_redis_url and gr_redis_cli), GR_REDIS_PORTS (all six)
# and exports GOVREPORT_REDIS_CLUSTER (every node, for the services).
GR_REDIS_PORTS=()
gr_start_redis_cluster() {
  local dir="$1" root name pass p i node
  root="$(dirname "${BASH_SOURCE[0]}")/.."
  local template="$root/deploy/redis/users.acl.template"
  local -a env=("GOVREPORT_REDIS_ACL_TEMPLATE=$template")
  for name in $(grep -o '@[A-Z]*_PASSWORD@' "$template" | sort -u | sed 's/@\([A-Z]*\)_PASSWORD@/\1/'); do
    pass=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    GR_REDIS_PASSWORDS[${name,,}]="$pass"
    env+=("REDIS_${name}_PASSWORD=$pass")
  done
  GR_REDIS_PORTS=()
  # Ports below the kernel's ephemeral range (32768+) with the cluster bus
  # (port + 10000) too; a port taken between the check and the bind makes
  # the node exit at once, and another port is tried.
  local attempt pid up tries=0
  while [ ${#GR_REDIS_PORTS[@]} -lt 6 ]; do
    tries=$((tries + 1))
    [ "$tries" -le 12 ] || { gr_log "redis cluster nodes did not start (see $dir)"; return 1; }
    for attempt in 1 2 3 4 5; do
      p=$(( 10000 + RANDOM % 12000 ))
      case " ${GR_REDIS_PORTS[*]} " in *" $p "*) continue ;; esac
      gr_port_in_use "$p" || gr_port_in_use $((p + 10000)) || break
    done
    node="$dir/node-$p"
    mkdir -p "$node"
    env "${env[@]}" "GOVREPORT_REDIS_ACL=$node/users.acl" "$root/deploy/docker/redis-entrypoint.sh" \
      --port "$p" --bind 127.0.0.1 --protected-mode yes --dir "$node" --appendonly yes \
      --appendfsync always --save "" --logfile "$node/redis.log" --cluster-enabled yes \
      --cluster-config-file "$node/nodes.conf" --cluster-node-timeout 5000 \
      --masteruser admin --masterauth "${GR_REDIS_PASSWORDS[admin]}" &
    pid=$!
    GR_PIDS+=("$pid")
    up=""
    for i in $(seq 1 600); do
      [ "$(GR_REDIS_PORT=$p gr_redis_cli admin ping 2>/dev/null)" = PONG ] && { up=1; break; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if [ -n "$up" ]; then
      GR_REDIS_PORTS+=("$p")
    elif kill -0 "$pid" 2>/dev/null; then
      gr_log "redis-server on :$p runs but does not answer (see $node/redis.log)"
      return 1
    fi
  done
  local -a addresses=()
  for p in "${GR_REDIS_PORTS[@]}"; do addresses+=("127.0.0.1:$p"); done
  GR_REDIS_PORT="${GR_REDIS_PORTS[0]}"
  gr_redis_cli admin --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes \
    >"$dir/cluster-create.log" 2>&1 || { gr_log "redis-cli --cluster create failed (see $dir)"; return 1; }
  # Healthy: every node says ok and sees all 16384 slots served.
  for i in $(seq 1 600); do
    local healthy=1
    for p in "${GR_REDIS_PORTS[@]}"; do
      GR_REDIS_PORT=$p gr_redis_cli admin cluster info 2>/dev/null | grep -q 'cluster_state:ok' ||
        healthy=""
    done
    [ -n "$healthy" ] && break
    sleep 0.1
  done
  GR_REDIS_PORT="${GR_REDIS_PORTS[0]}"
  [ -n "$healthy" ] || { gr_log "the redis cluster did not become healthy (see $dir)"; return 1; }
  GOVREPORT_REDIS_CLUSTER=$(IFS=,; echo "${addresses[*]}")
  export GOVREPORT_REDIS_CLUSTER
}

# gr_tls DIR: a local CA and a certificate per service in DIR
# (scripts/gen-certs.sh, docs/tls.md). From then on gr_start_service serves
# TLS with the service's own certificate and requires client certificates
# of the CA (mTLS); every client (reportctl, the services' outbound
# channels) verifies servers with DIR/ca.pem and presents a certificate
# (reportctl's, or the calling service's own), all by environment.
GR_CERTS=""
gr_tls() {
  GR_CERTS="$1"
  "$(dirname "${BASH_SOURCE[0]}")/gen-certs.sh" "$GR_CERTS" >/dev/null
  export GOVREPORT_TLS_CA="$GR_CERTS/ca.pem" GOVREPORT_TLS_CLIENT_CA="$GR_CERTS/ca.pem"
  export GOVREPORT_TLS_CERT="$GR_CERTS/reportctl.pem" GOVREPORT_TLS_KEY="$GR_CERTS/reportctl.key"
}

# gr_start_service NAME BINARY [ARGS...] → prints the port it listens on.
# The service picks a free port itself (--listen 127.0.0.1:0) and says which.
# After gr_tls, over TLS with DIR/NAME.pem and DIR/NAME.key; a NAME without
# its own certificate there is an error (not reportctl's certificate).
gr_start_service() {
  local name="$1" bin="$2"; shift 2
  local log="$GR_RUN_DIR/$name.log"
  local -a tls=()
  if [ -n "$GR_CERTS" ]; then
    if [ ! -f "$GR_CERTS/$name.pem" ] || [ ! -f "$GR_CERTS/$name.key" ]; then
      gr_log "$name: no $GR_CERTS/$name.pem and .key (gen-certs.sh makes one per service name)"
      return 1
    fi
    tls=(env "GOVREPORT_TLS_CERT=$GR_CERTS/$name.pem" "GOVREPORT_TLS_KEY=$GR_CERTS/$name.key")
  fi
  "${tls[@]}" "$bin" --listen 127.0.0.1:0 "$@" >"$log.out" 2>"$log" &
  GR_PIDS+=($!)
  echo $! >>"$GR_RUN_DIR/service.pids"
  local i port pid=$!
  for i in $(seq 1 200); do
    port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log.out" 2>/dev/null | head -n1)
    if [ -n "$port" ]; then echo "$port"; return 0; fi
    # Exited (a bad flag, a port taken): say why now, not after the wait.
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  gr_log "$name did not start (see $log): $(tail -n 3 "$log" 2>/dev/null)"
  return 1
}

# gr_metrics_port NAME: the port of NAME's /metrics when it was started with
# --metrics-listen 127.0.0.1:0. The service binds a free port itself and
# logs it before it announces its own, so no other process can take it
# between a check and the bind (as one chosen by gr_free_port can).
gr_metrics_port() {
  sed -n 's/.*metrics on port \([0-9]*\) at \/metrics.*/\1/p' "$GR_RUN_DIR/$1.log" | head -n1
}
