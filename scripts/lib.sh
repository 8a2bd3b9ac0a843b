# Shared shell helpers: free ports, a private redis-server, services started
# on free ports, and cleanup of everything started. Source it.

GR_PIDS=()
GR_RUN_DIR="${GR_RUN_DIR:-}"

gr_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

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
  for pid in "${GR_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${GR_PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  GR_PIDS=()
}

# gr_start_redis DIR → sets GR_REDIS_PORT and GR_REDIS_URL. AOF with fsync
# every write: what the project recommends for production (docs/operations.md).
gr_start_redis() {
  local dir="$1"
  mkdir -p "$dir"
  GR_REDIS_PORT=$(gr_free_port)
  redis-server --port "$GR_REDIS_PORT" --bind 127.0.0.1 --dir "$dir" \
    --appendonly yes --appendfsync always --save "" \
    --logfile "$dir/redis.log" &
  GR_PIDS+=($!)
  GR_REDIS_URL="redis://127.0.0.1:$GR_REDIS_PORT"
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$GR_REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  gr_log "redis-server did not start (see $dir/redis.log)"
  return 1
}

# gr_start_service NAME BINARY [ARGS...] → prints the port it listens on.
# The service picks a free port itself (--listen 127.0.0.1:0) and says which.
gr_start_service() {
  local name="$1" bin="$2"; shift 2
  local log="$GR_RUN_DIR/$name.log"
  "$bin" --listen 127.0.0.1:0 "$@" >"$log.out" 2>"$log" &
  GR_PIDS+=($!)
  local i port
  for i in $(seq 1 200); do
    port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log.out" 2>/dev/null | head -n1)
    if [ -n "$port" ]; then echo "$port"; return 0; fi
    sleep 0.05
  done
  gr_log "$name did not start (see $log)"
  return 1
}
