#!/usr/bin/env bash
# Alternated create benchmark (docs/performance.md, "Create by SKU"): a binary from before a
# change (OLD) against this tree's (NEW), given prices and by SKU, 8 clients, 10 s each, each run
# on a fresh copy of a database seeded once per binary. OLD=… NEW=… ROUNDS=5 bench/alternate.sh
set -euo pipefail
OLD=${OLD:?the binary to compare with, built from an older commit}
NEW=${NEW:-target/release/ordo}
LUA=${LUA:-$(cd "$(dirname "$0")" && pwd)/wrk}
WRK=$(command -v wrk)
SECRET=bench-secret-bench-secret-bench-secret-0123
ROUNDS=${ROUNDS:-5}
template() { # binary name: a database seeded once by that binary, copied for every run
  local bin=$1 name=$2
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
  "$bin" seed --orders 100000 --customers 1000 --concurrency 32 --db-max-connections 32 \
    --database-url "postgres://postgres@127.0.0.1:5432/$name" >/dev/null 2>&1
  psql -q -h 127.0.0.1 -U postgres -d $name -c "VACUUM ANALYZE" >/dev/null 2>&1 || true
}
run() { # binary template script
  local bin=$1 tmpl=$2 script=$3 db=ordo_alt_$RANDOM
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE $tmpl" >/dev/null
  local url="postgres://postgres@127.0.0.1:5432/$db"
  psql -q -h 127.0.0.1 -U postgres -d $db -c "CHECKPOINT" >/dev/null 2>&1 || true
  local port=$((20000 + RANDOM % 20000))
  ORDO_JWT_SECRET=$SECRET "$bin" serve --listen 127.0.0.1:$port --database-url "$url" >/tmp/alt-server.log 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf localhost:$port/healthz >/dev/null && break; sleep 0.2; done
  local token; token=$(ORDO_JWT_SECRET=$SECRET "$bin" token --role admin --subject bench --ttl 1d)
  ORDO_BENCH_TOKEN=$token ORDO_BENCH_ORDERS=100000 ORDO_BENCH_CUSTOMERS=1000 ORDO_BENCH_LUA=$LUA ORDO_BENCH_TARGET=ordo \
    taskset -c 1 "$WRK" -t1 -c8 -d3s -s $LUA/$script.lua http://127.0.0.1:$port >/dev/null 2>&1
  local out; out=$(ORDO_BENCH_TOKEN=$token ORDO_BENCH_ORDERS=100000 ORDO_BENCH_CUSTOMERS=1000 ORDO_BENCH_LUA=$LUA ORDO_BENCH_TARGET=ordo \
    taskset -c 1 "$WRK" -t1 -c8 -d10s --latency -s $LUA/$script.lua http://127.0.0.1:$port)
  kill $pid; wait $pid 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
  local rps non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  local p99; p99=$(echo "$out" | awk '/ 99%/ {print $2}')
  echo "$tmpl $script $rps p99=$p99 non2xx=${non2xx:-0}"
}
[ -n "${REUSE:-}" ] || template "$OLD" ordo_alt_old
[ -n "${REUSE:-}" ] || template "$NEW" ordo_alt_new
for i in $(seq $ROUNDS); do
  for script in ${SCRIPTS:-create}; do run "$OLD" ordo_alt_old "$script"; done
  for script in ${SCRIPTS:-create} create-sku; do run "$NEW" ordo_alt_new "$script"; done
done
