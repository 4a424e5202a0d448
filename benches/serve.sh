#!/usr/bin/env bash
# tinykv serve beside a real redis-server, both durable (Redis with
# appendonly yes + appendfsync always, tinykv with its default --sync
# always), measured by redis-benchmark in the same run: SET, GET, INCR and
# MSET (10 keys) with 50 clients, without and with pipelining (-P 16), for
# a few rounds that alternate which server goes first. Prints every figure,
# the medians and the ratios tinykv / redis (higher is better; targets
# without pipelining: SET >= 1.2, GET, INCR, MSET >= 1.0).
#
#   bash benches/serve.sh                 3 rounds of 100,000 requests
#   ROUNDS=5 REQUESTS=200000 bash benches/serve.sh
#   TESTS=set,get PIPELINES=1 bash benches/serve.sh
#   TINYKV=/path/to/tinykv bash benches/serve.sh   (skip the release build)
#
# Needs redis-server and redis-benchmark (Debian: redis-server, redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
requests=${REQUESTS:-100000}
clients=${CLIENTS:-50}
tests=${TESTS:-set,get,incr,mset}
pipelines=${PIPELINES:-1 16}
source benches/lib.sh
require_tools serve.sh redis-server redis-benchmark redis-cli
release_tinykv
scratch

# Redis on a free port: try a few random ones.
mkdir "$work/redis"
for _ in 1 2 3 4 5 6 7 8; do
    redis_port=$((20000 + RANDOM % 20000))
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && continue
    redis-server --port "$redis_port" --bind 127.0.0.1 --appendonly yes \
        --appendfsync always --save '' --dir "$work/redis" --daemonize no \
        >"$work/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        [[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] && break 2
        sleep 0.05
    done
done
[[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] || {
    echo "serve.sh: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 2; }

# tinykv on an OS-chosen port, read from its announcement.
"$TINYKV" -d "$work/tinykv" serve --listen 127.0.0.1:0 2>"$work/tinykv.log" &
pids+=($!)
for _ in $(seq 200); do
    tinykv_port=$(sed -n 's/^tinykv: serving .* on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/tinykv.log")
    [[ -n $tinykv_port ]] && break
    sleep 0.05
done
[[ -n ${tinykv_port:-} ]] || { echo "serve.sh: tinykv did not start" >&2; cat "$work/tinykv.log" >&2; exit 2; }

# One redis-benchmark run: prints a "TEST rps" line per test (MSET's name,
# "MSET (10 keys)", cut to its first word).
bench() { # port pipeline
    redis-benchmark -h 127.0.0.1 -p "$1" -t "$tests" -n "$requests" -c "$clients" -P "$2" --csv 2>/dev/null |
        awk -F'","' 'NR > 1 { gsub(/"/, "", $1); sub(/ .*/, "", $1); print $1, $2 }'
}

results="$work/results"
: >"$results"
echo "machine: $(nproc) cores, $(uname -sr), $(redis-server --version | cut -d' ' -f1-3)"
echo "redis-benchmark -t $tests -n $requests -c $clients, -P $pipelines, $rounds rounds, alternating"
for round in $(seq "$rounds"); do
    order=(redis tinykv)
    ((round % 2 == 0)) && order=(tinykv redis)
    for pipeline in $pipelines; do
        for server in "${order[@]}"; do
            port=$redis_port
            [[ $server == tinykv ]] && port=$tinykv_port
            bench "$port" "$pipeline" | while read -r test rps; do
                echo "$round $pipeline $server $test $rps" | tee -a "$results"
            done
        done
    done
done

echo
echo "medians (requests per second), the ratio of the medians, and the ratios"
echo "round by round (each round runs both servers back to back): their median"
echo "(the steadiest figure when the disk's speed drifts) and their range:"
printf '%-8s %-5s %12s %12s %8s %10s %12s\n' pipeline test redis tinykv ratio "median" "range"
for pipeline in $pipelines; do
    for test in $(echo "$tests" | tr 'a-z,' 'A-Z '); do
        med() {
            awk -v p="$pipeline" -v s="$1" -v t="$test" '$2 == p && $3 == s && $4 == t { print $5 }' "$results" |
                sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
        }
        r=$(med redis)
        t=$(med tinykv)
        ratios=$(awk -v p="$pipeline" -v t="$test" '$2 == p && $4 == t { v[$1 " " $3] = $5; n[$1] = 1 }
            END { for (i in n) print v[i " tinykv"] / v[i " redis"] }' "$results" | sort -g)
        range=$(echo "$ratios" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
        middle=$(echo "$ratios" | awk '{ a[NR] = $1 } END { printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
        printf '%-8s %-5s %12.0f %12.0f %8.2f %10s %12s\n' "-P $pipeline" "$test" "$r" "$t" "$(echo "$t / $r" | bc -l)" "$middle" "$range"
    done
done
