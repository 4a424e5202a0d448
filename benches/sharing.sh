#!/usr/bin/env bash
# One-shot commands while another tinykv owns the database (PRODUCT.md §7,
# §5): a one-shot `get` and a durable one-shot `set` through an owning REPL
# and through an owning `tinykv serve`, beside the same commands on the same
# database with no owner, in one run. Target: through an owner <= 1.3x the
# direct time.
#
# Usage (from anywhere in a clone):
#
#   bash benches/sharing.sh [OUTDIR]
#
# OUTDIR defaults to target/bench-sharing. Written there: get.json and
# set.json (hyperfine --export-json, every run's time) and summary.csv (each
# figure and its ratio to the direct one). The database goes to OUTDIR/work
# and is removed at the end (BENCH_KEEP=1 keeps it).
#
# Knobs: BENCH_PAIRS (default 1000000), BENCH_RUNS (timed runs per key and
# command, default 20).
#
# The REPL runs in a tmux pane, as a person's would (its socket and its
# terminal are the REPL's; nothing is typed into it while timing). It
# installs hyperfine, jq and tmux with apt when they are missing (as root,
# or through sudo), like .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

outdir=${1:-target/bench-sharing}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
pairs=${BENCH_PAIRS:-1000000}
runs=${BENCH_RUNS:-20}
nkeys=10

source benches/lib.sh
need_tools hyperfine=hyperfine jq=jq tmux=tmux

say() { printf '\n== %s\n' "$*" >&2; }

say "building tinykv (release)"
cargo build --release --quiet --bin tinykv
target_dir=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
tk=$target_dir/release/tinykv

work=$outdir/work
rm -rf "$work" "$outdir/hyperfine.log"
mkdir -p "$work"
db=$work/db.tkv
tmux_sock=tinykv-bench-$$
serve_pid=
cleanup() {
    tmux -L "$tmux_sock" kill-server 2>/dev/null || true
    [[ -z $serve_pid ]] || kill "$serve_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

say "loading $pairs pairs (16-byte keys, 100-byte values)"
awk -v n="$pairs" 'BEGIN { for (i = 0; i < n; i++) printf "key%013d\tval%013d%084d\n", i, i, i }' |
    "$tk" -d "$db" load
keys=$(awk -v k="$nkeys" -v n="$pairs" 'BEGIN { srand(7); for (c = 0; c < k; c++) printf "%s%s", (c ? "," : ""), sprintf("key%013d", int(rand() * n)) }')
value=$(printf 'v%.0s' $(seq 1 100))

# Who owns the database, as its lock file says (empty: nobody).
owner() { sed -n 's/^kind=//p' "$db/LOCK" 2>/dev/null || true; }
wait_owner() { # KIND
    for _ in $(seq 1 500); do
        [[ $(owner) == "$1" ]] && return 0
        sleep 0.01
    done
    echo "sharing.sh: no $1 took the database" >&2
    exit 2
}
wait_repl_gone() { # the pane's program exited: the tmux session ends
    for _ in $(seq 1 500); do
        tmux -L "$tmux_sock" has-session 2>/dev/null || return 0
        sleep 0.01
    done
    echo "sharing.sh: the REPL did not exit" >&2
    exit 2
}

# Each timed command must go where it is meant to: with --wait 0 a command
# that found the database owned by something else would fail, not wait.
time_cmds() { # NAME LABEL COMMAND
    hyperfine -N --warmup 3 --runs "$runs" --parameter-list key "$keys" \
        --export-json "$outdir/$1-$2.json" --command-name "$1 $2 {key}" "$3" >>"$outdir/hyperfine.log"
    echo "$1 $2: done" >&2
}

measure() { # LABEL
    time_cmds get "$1" "$tk -d $db --wait 0 get {key}"
    time_cmds set "$1" "$tk -d $db --wait 0 set {key} $value"
}

say "no owner"
measure direct

say "a REPL owns the database (tmux)"
tmux -L "$tmux_sock" -f /dev/null new-session -d -x 120 -y 40 -- \
    env -i HOME="$HOME" PATH="$PATH" TERM=xterm-256color TINYKV_HISTFILE=/dev/null "$tk" -d "$db"
wait_owner repl
measure repl
tmux -L "$tmux_sock" send-keys C-d
wait_repl_gone

say "tinykv serve owns the database"
"$tk" -d "$db" serve --listen 127.0.0.1:0 2>"$work/serve.err" &
serve_pid=$!
wait_owner serve
measure serve
kill "$serve_pid"
wait "$serve_pid" || true
serve_pid=

# Mean of every run of every key, per command and way in.
mean() { jq '[.results[].times[]] | add / length * 1000' "$outdir/$1-$2.json"; }
{
    echo "workload,way in,mean ms,ratio to direct,target"
    for cmd in get set; do
        direct=$(mean "$cmd" direct)
        for way in direct repl serve; do
            m=$(mean "$cmd" "$way")
            awk -v c="$cmd" -v w="$way" -v m="$m" -v d="$direct" 'BEGIN {
                printf "%s,%s,%.3f,%.3f,%s\n", c, w, m, m / d, (w == "direct" ? "-" : "<= 1.3")
            }'
        done
    done
} >"$outdir/summary.csv"
column -t -s, "$outdir/summary.csv"
echo "results: $outdir/summary.csv, $outdir/{get,set}-*.json, hyperfine's output in $outdir/hyperfine.log" >&2
