#!/usr/bin/env bash
# What one request costs, beside benches/serve.sh's rates: CPU time,
# context switches and system calls per request of tinykv serve and of a
# real redis-server (both durable, as in serve.sh), and of the client,
# redis-benchmark, against each. Counted with `perf stat` attached to each
# server while redis-benchmark runs against it. Counts are steadier than
# rates on a shared machine: a busy neighbour slows both servers, but
# hardly changes how many system calls a request takes.
#
# The client's column says where the rate's ceiling is: redis-benchmark is
# one thread, so it cannot send more than 1 / (its CPU time per request)
# requests a second, whichever server answers (the `ceiling` column). When
# both servers run near it, their ratio says nothing about the servers.
#
#   bash benches/serve_cost.sh                  SET, GET, INCR, MSET, -P 1
#   TESTS=set,get PIPELINE=16 bash benches/serve_cost.sh
#   TINYKV=/path/to/tinykv bash benches/serve_cost.sh  (skip the build)
#
# Needs redis-server, redis-benchmark and perf with tracepoint access (root,
# or kernel.perf_event_paranoid <= -1).
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${REQUESTS:-100000}
clients=${CLIENTS:-50}
tests=${TESTS:-set,get,incr,mset}
pipeline=${PIPELINE:-1}
source benches/lib.sh
require_tools serve_cost.sh redis-server redis-benchmark redis-cli perf
release_tinykv
scratch

mkdir "$work/redis"
redis_port=
for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 20000))
    redis-cli -p "$port" ping >/dev/null 2>&1 && continue
    redis-server --port "$port" --bind 127.0.0.1 --appendonly yes \
        --appendfsync always --save '' --dir "$work/redis" --daemonize no \
        >"$work/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    for _ in $(seq 100); do
        [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && { redis_port=$port; break 2; }
        sleep 0.05
    done
done
[[ -n $redis_port ]] || { echo "serve_cost.sh: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 2; }

"$TINYKV" -d "$work/tinykv" serve --listen 127.0.0.1:0 2>"$work/tinykv.log" &
tinykv_pid=$!
pids+=("$tinykv_pid")
tinykv_port=
for _ in $(seq 200); do
    tinykv_port=$(sed -n 's/^tinykv: serving .* on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/tinykv.log")
    [[ -n $tinykv_port ]] && break
    sleep 0.05
done
[[ -n $tinykv_port ]] || { echo "serve_cost.sh: tinykv did not start" >&2; cat "$work/tinykv.log" >&2; exit 2; }

# The server's counters: every system call, and those a request makes, by
# family (a call the kernel has no tracepoint for is left out).
perf list 2>/dev/null >"$work/events" || true
events=task-clock,context-switches,raw_syscalls:sys_enter
for call in read recvfrom write sendto writev epoll_wait epoll_pwait epoll_ctl fsync fdatasync futex; do
    grep -q "syscalls:sys_enter_$call " "$work/events" && events+=",syscalls:sys_enter_$call"
done

# count FILE EVENT...: the sum of the counters named, per request.
count() {
    local file=$1
    shift
    awk -F, -v r="$requests" -v names=" $* " '
        index(names, " " $3 " ") { v = $1; if ($3 == "task-clock") v *= 1000; s += v }
        END { printf "%.3f", s / r }' "$file"
}

echo "machine: $(nproc) cores, $(uname -sr), $(redis-server --version | cut -d' ' -f1-3)"
echo "redis-benchmark -t $tests -n $requests -c $clients -P $pipeline"
echo "per request: server CPU microseconds, context switches, system calls (all, then"
echo "reads, writes, epoll calls, fsyncs, futex), requests per fsync; the client's"
echo "CPU microseconds and the ceiling it sets (requests a second), the rate measured"
printf '%-5s %-7s %7s %6s %6s %6s %6s %6s %6s %6s %8s | %7s %8s %8s\n' \
    test server cpu_us csw calls reads writes epoll fsyncs futex req/fsync \
    cli_us ceiling rate
for test in ${tests//,/ }; do
    for server in redis tinykv; do
        pid=$redis_pid port=$redis_port
        [[ $server == tinykv ]] && pid=$tinykv_pid port=$tinykv_port
        perf stat -x, -e "$events" -p "$pid" -o "$work/server" &
        perf_pid=$!
        sleep 0.3
        perf stat -x, -e task-clock -o "$work/client" \
            redis-benchmark -h 127.0.0.1 -p "$port" -t "$test" -n "$requests" -c "$clients" \
            -P "$pipeline" --csv >"$work/csv" 2>/dev/null
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
        fsyncs=$(count "$work/server" syscalls:sys_enter_fsync syscalls:sys_enter_fdatasync)
        client=$(count "$work/client" task-clock)
        printf '%-5s %-7s %7.2f %6.3f %6.2f %6.2f %6.2f %6.3f %6.3f %6.3f %8s | %7.2f %8.0f %8.0f\n' \
            "$test" "$server" \
            "$(count "$work/server" task-clock)" \
            "$(count "$work/server" context-switches)" \
            "$(count "$work/server" raw_syscalls:sys_enter)" \
            "$(count "$work/server" syscalls:sys_enter_read syscalls:sys_enter_recvfrom)" \
            "$(count "$work/server" syscalls:sys_enter_write syscalls:sys_enter_sendto syscalls:sys_enter_writev)" \
            "$(count "$work/server" syscalls:sys_enter_epoll_wait syscalls:sys_enter_epoll_pwait syscalls:sys_enter_epoll_ctl)" \
            "$fsyncs" \
            "$(count "$work/server" syscalls:sys_enter_futex)" \
            "$(awk -v f="$fsyncs" 'BEGIN { if (f > 0) printf "%.1f", 1 / f; else print "-" }')" \
            "$client" \
            "$(awk -v c="$client" 'BEGIN { print 1e6 / c }')" \
            "$(awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2 }' "$work/csv")"
    done
done
