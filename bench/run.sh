#!/usr/bin/env bash
# Per-request CPU and per-user memory of rustlocust, side by side with peers measured in the same run.
#
#   bash bench/run.sh            # wrk always (installed if missing); Locust FastHttpUser when `locust` is on PATH
#   DURATION=10 USERS=50 IDLE_USERS=5000 bash bench/run.sh
#
# Harness (as in shared/reference/peers.md): one nginx worker pinned to CPU 1 serves `200 "ok\n"`;
# each generator is pinned to CPU 0; closed loop, $USERS concurrent users/connections, no think time.
# "gen CPU us/req" = the generator's user+system CPU time / requests it completed.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
USERS=${USERS:-50}
IDLE_USERS=${IDLE_USERS:-5000}
PORT=${PORT:-18089}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || [ ! -x /usr/bin/time ] || ! need taskset; then
  echo "installing nginx, wrk, time (apt)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk time util-linux >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --quiet
BIN=target/release/rustlocust
WORK=$(mktemp -d)
cleanup() { [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 10;
worker_rlimit_nofile 65536;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server { listen 127.0.0.1:$PORT; location / { return 200 "ok\n"; } }
}
CONF
taskset -c 1 "$NGINX" -c "$WORK/nginx.conf" -p "$WORK"
for _ in $(seq 50); do curl -s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
ulimit -n 65536 2>/dev/null || true

# measure NAME CMD...: runs CMD under GNU time; prints "cpu_seconds max_rss_kib" to $WORK/NAME.time
measure() {
  local name=$1; shift
  /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || true
}
cpu_of() { awk '{printf "%.3f", $1+$2}' "$WORK/$1.time"; }
rss_of() { awk '{print $3}' "$WORK/$1.time"; }

echo "== per-request CPU: $USERS users, ${DURATION}s, generator on CPU 0, nginx on CPU 1"
measure wrk taskset -c 0 wrk -t1 -c"$USERS" -d"${DURATION}s" "http://127.0.0.1:$PORT/"
WRK_REQS=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")

measure rl taskset -c 0 "$BIN" bench/one_get.rhai --headless --only-summary --json --threads 1 \
  -u "$USERS" -r 10000 -t "${DURATION}s" -H "http://127.0.0.1:$PORT" -L warn
RL_REQS=$(python3 -c 'import json,sys; print(sum(e["num_requests"] for e in json.load(open(sys.argv[1]))))' "$WORK/rl.out")
RL_FAILS=$(python3 -c 'import json,sys; print(sum(e["num_failures"] for e in json.load(open(sys.argv[1]))))' "$WORK/rl.out")

HAVE_LOCUST=0
if need locust; then
  HAVE_LOCUST=1
  measure locust taskset -c 0 locust -f bench/locust_fast.py --headless -u "$USERS" -r 10000 -t "${DURATION}s" \
    -H "http://127.0.0.1:$PORT" --only-summary --csv "$WORK/locust" --loglevel WARNING
  LOCUST_REQS=$(awk -F, '$2=="Aggregated" {print $3}' "$WORK/locust_stats.csv")
fi

row() { # name reqs cpu rss
  python3 - "$@" <<'PY'
import sys
name, reqs, cpu, rss, dur = sys.argv[1], int(sys.argv[2] or 0), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
us = cpu / reqs * 1e6 if reqs else float("nan")
print(f"| {name:<28} | {reqs/dur:>10,.0f} | {rss/1024:>8.1f} | {us:>9.2f} |")
PY
}
echo "| tool                         |      req/s | RSS MiB | CPU us/req |"
echo "|------------------------------|-----------:|--------:|----------:|"
row "wrk 1 thread" "$WRK_REQS" "$(cpu_of wrk)" "$(rss_of wrk)" "$DURATION"
row "rustlocust (Rhai scenario)" "$RL_REQS" "$(cpu_of rl)" "$(rss_of rl)" "$DURATION"
[ "$HAVE_LOCUST" = 1 ] && row "Locust FastHttpUser" "$LOCUST_REQS" "$(cpu_of locust)" "$(rss_of locust)" "$DURATION"
[ "$RL_FAILS" = 0 ] || echo "WARNING: rustlocust saw $RL_FAILS failed requests"
python3 - "$WRK_REQS" "$(cpu_of wrk)" "$RL_REQS" "$(cpu_of rl)" "${LOCUST_REQS:-0}" "$( [ "$HAVE_LOCUST" = 1 ] && cpu_of locust || echo 0)" <<'PY'
import sys
wr, wc, rr, rc, lr, lc = (float(x) for x in sys.argv[1:])
rl = rc / rr * 1e6
print(f"ratio rustlocust/wrk CPU per request: {rl / (wc / wr * 1e6):.2f}x")
if lr:
    print(f"ratio Locust FastHttpUser/rustlocust CPU per request: {(lc / lr * 1e6) / rl:.1f}x")
print(f"bar (issue #2): below Goose's 20.9 us/req -> {'PASS' if rl < 20.9 else 'FAIL'} ({rl:.2f})")
PY

echo
echo "== memory per user: $IDLE_USERS users each holding one keep-alive connection, then waiting"
measure idle1 taskset -c 0 "$BIN" bench/idle_users.rhai --headless --only-summary --threads 1 -u 1 -r 10000 -t 6s \
  -H "http://127.0.0.1:$PORT" -L warn
measure idleN taskset -c 0 "$BIN" bench/idle_users.rhai --headless --only-summary --threads 1 -u "$IDLE_USERS" -r 10000 -t 6s \
  -H "http://127.0.0.1:$PORT" -L warn
python3 - "$(rss_of idle1)" "$(rss_of idleN)" "$IDLE_USERS" <<'PY'
import sys
base, peak, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
per = (peak - base) / (n - 1)
print(f"peak RSS: 1 user {base/1024:.1f} MiB, {n} users {peak/1024:.1f} MiB -> {per:.1f} KiB per user")
print(f"bar (issue #2): below 40 KiB per user -> {'PASS' if per < 40 else 'FAIL'}")
PY
