#!/usr/bin/env bash
# tinykv push beside `tinykv dump --format resp | redis-cli --pipe`, the way
# into one Redis server that was there before push: both copy the same
# database of PAIRS pairs (16-byte keys, 100-byte values) into a real
# redis-server (nothing persisted, so the server is not the bottleneck of
# either), for a few rounds that alternate which goes first, the server
# flushed before each. Prints every time, the medians, and the ratio
# pipe time / push time (the throughput of push over the pipe's: higher is
# better; target >= 1.0). Each run is checked: DBSIZE equals PAIRS.
#
#   bash benches/push.sh                    3 rounds of 1,000,000 pairs
#   ROUNDS=5 PAIRS=200000 bash benches/push.sh
#   TINYKV=/path/to/tinykv bash benches/push.sh   (skip the release build)
#
# Needs redis-server and redis-cli (Debian: redis-server, redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
pairs=${PAIRS:-1000000}
source benches/lib.sh
require_tools push.sh redis-server redis-cli
release_tinykv
scratch

mkdir "$work/redis"
for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 20000))
    redis-cli -p "$port" ping >/dev/null 2>&1 && continue
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$work/redis" --daemonize no >"$work/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && break 2
        sleep 0.05
    done
done
[[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] || {
    echo "push.sh: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 2; }

# The database: key%012d (16 bytes), a 100-byte value.
awk -v n="$pairs" 'BEGIN { v = sprintf("%0100d", 0); for (i = 0; i < n; i++) printf "key:%012d\t%s\n", i, v }' |
    "$TINYKV" -d "$work/db" --sync never load

now() { date +%s.%N; }
run() { # how
    redis-cli -p "$port" flushall >/dev/null
    local start end
    start=$(now)
    case $1 in
    push) "$TINYKV" -d "$work/db" push "redis://127.0.0.1:$port" >/dev/null ;;
    pipe) "$TINYKV" -d "$work/db" dump --format resp | redis-cli -p "$port" --pipe >/dev/null ;;
    esac
    end=$(now)
    local size
    size=$(redis-cli -p "$port" dbsize)
    [[ $size == "$pairs" ]] || { echo "push.sh: $1 left $size keys, not $pairs" >&2; exit 1; }
    echo "$end - $start" | bc -l
}

results="$work/results"
: >"$results"
echo "machine: $(nproc) cores, $(uname -sr), $(redis-server --version | cut -d' ' -f1-3)"
echo "$pairs pairs (16-byte keys, 100-byte values), $rounds rounds, alternating"
for round in $(seq "$rounds"); do
    order=(pipe push)
    ((round % 2 == 0)) && order=(push pipe)
    for how in "${order[@]}"; do
        secs=$(run "$how")
        printf '%s %s %.3f\n' "$round" "$how" "$secs" | tee -a "$results"
    done
done

med() {
    awk -v h="$1" '$2 == h { print $3 }' "$results" | sort -g |
        awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
pipe=$(med pipe)
push=$(med push)
ratios=$(awk '{ t[$1 " " $2] = $3; r[$1] = 1 } END { for (i in r) print t[i " pipe"] / t[i " push"] }' "$results" | sort -g)
echo
printf 'median seconds: dump | redis-cli --pipe %.3f, push %.3f\n' "$pipe" "$push"
printf 'push throughput / the pipe'"'"'s: %.2f (round by round %s)\n' "$(echo "$pipe / $push" | bc -l)" \
    "$(echo "$ratios" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')"
