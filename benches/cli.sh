#!/usr/bin/env bash
# The command-line benchmark: tinykv against sqlite3, side by side in one run,
# on the workloads of PRODUCT.md §5 (one-shot get, durable set, load from a
# pipe, dump, peak memory of a one-shot get at 1k and 1M keys).
#
# Usage (from anywhere in a clone):
#
#   bash benches/cli.sh [--chart | --no-chart] [OUTDIR]
#
# OUTDIR defaults to target/bench. Written there: one hyperfine --export-json
# file per comparison (get.json, get-1k.json, set.json, load.json, dump.json,
# keys.json),
# memory.csv (every /usr/bin/time -v sample), summary.csv and summary.json
# (each figure, the ratio tinykv/sqlite3 and the target). The chart is written
# to docs/bench-cli.svg (always, unless --no-chart; --chart is accepted and is
# the default). The databases and the dataset go to OUTDIR/work and are
# removed at the end (BENCH_KEEP=1 keeps them).
#
# Knobs, for a quick smoke run: BENCH_PAIRS (default 1000000), BENCH_RUNS
# (runs per key for get/set, default 20), BENCH_LOAD_RUNS (default 5).
#
# It installs hyperfine, sqlite3, jq, GNU time and gnuplot with apt when they
# are missing (as root, or through sudo), like .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

chart=1
outdir=target/bench
for arg in "$@"; do
    case $arg in
    --chart) chart=1 ;;
    --no-chart) chart=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "cli.sh: unknown option $arg" >&2
        exit 2
        ;;
    *) outdir=$arg ;;
    esac
done
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

pairs=${BENCH_PAIRS:-1000000}
runs=${BENCH_RUNS:-20}
load_runs=${BENCH_LOAD_RUNS:-5}
human() { awk -v n="$1" 'BEGIN {if (n >= 1e6 && n % 1e6 == 0) print n / 1e6 "M"; else if (n >= 1000 && n % 1000 == 0) print n / 1000 "k"; else print n}'; }
small=1000 # the small database, for the memory and open-cost comparisons
nkeys=10   # distinct random keys for get and set (hyperfine --parameter-list)

# --- tools -------------------------------------------------------------------
# each tool=the Debian package that provides it
source benches/lib.sh
need_tools hyperfine=hyperfine sqlite3=sqlite3 jq=jq /usr/bin/time=time gnuplot=gnuplot-nox

say() { printf '\n== %s\n' "$*" >&2; }

# --- build -------------------------------------------------------------------
say "building tinykv (release)"
cargo build --release --quiet --bin tinykv
target_dir=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
tk=$target_dir/release/tinykv
sq=$(command -v sqlite3)
[[ -x $tk ]] || {
    echo "cli.sh: no binary at $tk" >&2
    exit 2
}

work=$outdir/work
rm -rf "$work"
mkdir -p "$work"
cleanup() { [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$work"; }
trap cleanup EXIT

data=$work/data.tsv
schema='CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID'

# --- dataset -----------------------------------------------------------------
# key0000000000042<TAB>val0000000000042<84 pseudo-random letters>: 16-byte
# keys, 100-byte values, sorted by key (the order `tinykv dump` writes). The
# same file is tinykv's tsv and sqlite3's `.mode tabs` import: it has no
# character either format would escape or quote.
gen() {
    awk -v n="$1" 'BEGIN {
        srand(42)
        a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        for (i = 0; i < 200; i++) s = s substr(a, int(rand() * 62) + 1, 1)
        for (i = 0; i < n; i++) printf "key%013d\tval%013d%s\n", i, i, substr(s, i % 100 + 1, 84)
    }'
}
# $1 distinct random indexes below $2, comma-separated, as keys
pick_keys() {
    awk -v k="$1" -v n="$2" -v seed="$3" 'BEGIN {
        srand(seed)
        while (c < k) { i = int(rand() * n); if (!(i in seen)) { seen[i] = 1; out = out (c++ ? "," : "") sprintf("key%013d", i) } }
        print out
    }'
}

say "generating $pairs pairs"
gen "$pairs" >"$data"
gen "$small" >"$work/small.tsv"
echo "$(wc -l <"$data") lines, $(stat -c %s "$data") bytes: $data" >&2

load_sqlite() { # DB FILE: .import in one transaction
    rm -f "$1" "$1-journal"
    "$sq" "$1" "$schema"
    "$sq" "$1" '.mode tabs' 'BEGIN' ".import $2 kv" 'COMMIT'
}

say "loading the databases"
"$tk" -d "$work/big.tkv" load "$data"
"$tk" -d "$work/small.tkv" load "$work/small.tsv"
load_sqlite "$work/big.db" "$data"
load_sqlite "$work/small.db" "$work/small.tsv"

journal_mode=$("$sq" "$work/big.db" 'PRAGMA journal_mode')
synchronous=$("$sq" "$work/big.db" 'PRAGMA synchronous')
echo "sqlite3 $("$sq" --version | cut -d' ' -f1) defaults: journal_mode=$journal_mode synchronous=$synchronous (2 = FULL)" >&2

# Sanity: same data in both, before timing anything.
for db in big small; do
    n=$([[ $db == big ]] && echo "$pairs" || echo "$small")
    k=$(printf 'key%013d' $((n / 2)))
    a=$("$tk" -d "$work/$db.tkv" get "$k")
    b=$("$sq" "$work/$db.db" "SELECT v FROM kv WHERE k='$k'")
    c=$("$sq" "$work/$db.db" 'SELECT count(*) FROM kv')
    [[ $a == "$b" && -n $a && $c == "$n" ]] || {
        echo "cli.sh: the $db databases differ ($a / $b / $c rows)" >&2
        exit 2
    }
done

keys=$(pick_keys "$nkeys" "$pairs" 7)
keys_small=$(pick_keys "$nkeys" "$small" 11)
set_keys=$(pick_keys "$nkeys" "$pairs" 13)
newval=$(printf 'new%097d' 1) # 100 bytes

hf=(hyperfine --style basic)

# --- one-shot get --------------------------------------------------------------
say "one-shot get, $pairs keys"
"${hf[@]}" -N --warmup 3 --runs "$runs" -L key "$keys" --export-json "$outdir/get.json" \
    "$tk -d $work/big.tkv get {key}" \
    "$sq $work/big.db \"SELECT v FROM kv WHERE k='{key}'\""

say "one-shot get, $small keys (open cost 1k vs 1M)"
"${hf[@]}" -N --warmup 3 --runs "$runs" -L key "$keys_small" --export-json "$outdir/get-1k.json" \
    "$tk -d $work/small.tkv get {key}" \
    "$sq $work/small.db \"SELECT v FROM kv WHERE k='{key}'\""

# --- one-shot durable set ------------------------------------------------------
say "one-shot durable set (tinykv --sync always; sqlite3 journal_mode=$journal_mode synchronous=$synchronous)"
"${hf[@]}" -N --warmup 2 --runs "$runs" -L key "$set_keys" --export-json "$outdir/set.json" \
    "$tk -d $work/big.tkv set {key} $newval" \
    "$sq $work/big.db \"INSERT OR REPLACE INTO kv VALUES('{key}','$newval')\""

# --- dump ----------------------------------------------------------------------
# hyperfine sends stdout to /dev/null.
say "dump of the whole database"
"${hf[@]}" -N --warmup 1 --runs "$load_runs" --export-json "$outdir/dump.json" \
    "$tk -d $work/big.tkv dump" \
    "$sq -tabs $work/big.db 'SELECT k, v FROM kv ORDER BY k'"

# --- keys under a prefix -----------------------------------------------------------
# 10,000 keys out of the whole database (with 1M pairs: key0000000120000 to
# key0000000129999), one a line; sqlite3 selects the same range.
kp_from=$((pairs * 12 / 100))
kp_prefix=$(printf 'key%013d' "$kp_from" | cut -c1-12)
kp_end=$(printf 'key%013d' $((kp_from + 10000)) | cut -c1-12)
kp_n=$("$tk" -d "$work/big.tkv" keys --prefix "$kp_prefix" | wc -l)
say "keys --prefix $kp_prefix ($kp_n keys)"
"${hf[@]}" -N --warmup 3 --runs "$runs" --export-json "$outdir/keys.json" \
    "$tk -d $work/big.tkv keys --prefix $kp_prefix" \
    "$sq $work/big.db \"SELECT k FROM kv WHERE k >= '$kp_prefix' AND k < '$kp_end' ORDER BY k\""

# --- load from a pipe into an empty database -----------------------------------
# A pipe needs a shell: both commands go through hyperfine's default shell.
say "load of $pairs pairs from a pipe into an empty database"
"${hf[@]}" --runs "$load_runs" --export-json "$outdir/load.json" \
    --prepare "rm -rf $work/load.tkv" \
    "cat $data | $tk -d $work/load.tkv load" \
    --prepare "rm -f $work/load.db $work/load.db-journal && $sq $work/load.db '$schema'" \
    "cat $data | $sq $work/load.db '.mode tabs' 'BEGIN' '.import /dev/stdin kv' 'COMMIT'"
for f in load.tkv load.db; do
    [[ -e $work/$f ]] || {
        echo "cli.sh: $f was not created" >&2
        exit 2
    }
done
[[ $("$sq" "$work/load.db" 'SELECT count(*) FROM kv') == "$pairs" ]]
[[ $("$tk" -d "$work/load.tkv" stats --json | jq .keys) == "$pairs" ]]

# --- peak memory -----------------------------------------------------------------
say "peak memory (/usr/bin/time -v) of a one-shot get"
mem=$outdir/memory.csv
echo "tool,keys,sample,max_rss_kib" >"$mem"
for db in small big; do
    n=$([[ $db == big ]] && echo "$pairs" || echo "$small")
    ks=$([[ $db == big ]] && echo "$keys" || echo "$keys_small")
    i=0
    for k in ${ks//,/ }; do
        i=$((i + 1))
        t=$(/usr/bin/time -v "$tk" -d "$work/$db.tkv" get "$k" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')
        s=$(/usr/bin/time -v "$sq" "$work/$db.db" "SELECT v FROM kv WHERE k='$k'" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')
        echo "tinykv,$n,$i,$t" >>"$mem"
        echo "sqlite3,$n,$i,$s" >>"$mem"
    done
done

# --- summary ---------------------------------------------------------------------
# Times: the median of every run of that tool in the file (all keys pooled),
# in ms or s. Memory: the largest max RSS of the samples, in MiB.
median() { # FILE TOOL(tinykv|sqlite3) SCALE
    # a command is sqlite3's when it starts with its path or pipes into it
    jq --arg sq "$sq" --arg tool "$2" --argjson scale "$3" '
        [.results[] | select(((.command | startswith($sq + " ")) or (.command | contains("| " + $sq + " "))) == ($tool == "sqlite3"))
         | .times[]] | sort
        | (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end) * $scale' "$1"
}
peak() { # TOOL KEYS
    awk -F, -v t="$1" -v n="$2" '$1 == t && $2 == n && $4 > m {m = $4} END {printf "%.2f", m / 1024}' "$mem"
}

rows=() # workload|unit|tinykv|sqlite3|ratio|target-text|limit|met
add_row() { # WORKLOAD UNIT TINYKV SQLITE TARGET-TEXT LIMIT (ratio must be <= LIMIT; "-" = no target)
    local ratio met
    ratio=$(awk -v a="$3" -v b="$4" 'BEGIN {printf "%.3f", a / b}')
    if [[ $6 == - ]]; then met=-; else met=$(awk -v r="$ratio" -v l="$6" 'BEGIN {print (r <= l ? "met" : "NOT met")}'); fi
    rows+=("$1|$2|$3|$4|$ratio|$5|$6|$met")
}
fmt() { awk -v x="$1" 'BEGIN {printf (x < 10 ? "%.3f" : "%.1f"), x}'; }

g_tk=$(fmt "$(median "$outdir/get.json" tinykv 1000)")
g_sq=$(fmt "$(median "$outdir/get.json" sqlite3 1000)")
g1_tk=$(fmt "$(median "$outdir/get-1k.json" tinykv 1000)")
g1_sq=$(fmt "$(median "$outdir/get-1k.json" sqlite3 1000)")
s_tk=$(fmt "$(median "$outdir/set.json" tinykv 1000)")
s_sq=$(fmt "$(median "$outdir/set.json" sqlite3 1000)")
l_tk=$(fmt "$(median "$outdir/load.json" tinykv 1)")
l_sq=$(fmt "$(median "$outdir/load.json" sqlite3 1)")
d_tk=$(fmt "$(median "$outdir/dump.json" tinykv 1)")
d_sq=$(fmt "$(median "$outdir/dump.json" sqlite3 1)")
k_tk=$(fmt "$(median "$outdir/keys.json" tinykv 1000)")
k_sq=$(fmt "$(median "$outdir/keys.json" sqlite3 1000)")
m1_tk=$(peak tinykv "$small")
m1_sq=$(peak sqlite3 "$small")
mb_tk=$(peak tinykv "$pairs")
mb_sq=$(peak sqlite3 "$pairs")

add_row "get, one-shot, $pairs keys" ms "$g_tk" "$g_sq" "<= 0.8x sqlite3" 0.8
add_row "set, one-shot, durable" ms "$s_tk" "$s_sq" "<= 0.8x sqlite3" 0.8
add_row "load $pairs pairs from a pipe" s "$l_tk" "$l_sq" "<= 0.5x sqlite3" 0.5
add_row "dump, whole database, in key order" s "$d_tk" "$d_sq" "<= 0.5x sqlite3" 0.5
add_row "keys --prefix, $kp_n of $pairs keys" ms "$k_tk" "$k_sq" "<= 0.8x sqlite3" 0.8
add_row "get, one-shot, $small keys" ms "$g1_tk" "$g1_sq" "none" -
add_row "peak memory of get, $small keys" MiB "$m1_tk" "$m1_sq" "none" -
add_row "peak memory of get, $pairs keys" MiB "$mb_tk" "$mb_sq" "none" -

# tinykv against itself: the ratio is 1M / 1k (or / the 20 MiB limit)
self_row() { # WORKLOAD UNIT VALUE BASE TARGET-TEXT LIMIT [strict]
    local ratio met
    ratio=$(awk -v a="$3" -v b="$4" 'BEGIN {printf "%.3f", a / b}')
    met=$(awk -v a="$3" -v b="$4" -v l="$6" -v s="${7:-}" 'BEGIN {r = a / b; print ((s ? r < l : r <= l) ? "met" : "NOT met")}')
    rows+=("$1|$2|$3|$4|$ratio|$5|$6|$met")
}
self_row "tinykv peak memory, $pairs keys (vs 20 MiB)" MiB "$mb_tk" 20 "< 20 MiB" 1 strict
self_row "tinykv peak memory, $pairs vs $small keys" MiB "$mb_tk" "$m1_tk" "flat (<= 1.25x)" 1.25
self_row "tinykv get time (open cost), $pairs vs $small keys" ms "$g_tk" "$g1_tk" "<= 1.5x" 1.5

{
    echo "workload,unit,tinykv,baseline,ratio,target,limit,result"
    for r in "${rows[@]}"; do
        IFS='|' read -r w u a b ra tt l m <<<"$r"
        echo "\"$w\",$u,$a,$b,$ra,\"$tt\",$l,$m"
    done
} >"$outdir/summary.csv"

{
    for r in "${rows[@]}"; do
        IFS='|' read -r w u a b ra tt l m <<<"$r"
        jq -n --arg w "$w" --arg u "$u" --argjson a "$a" --argjson b "$b" --argjson ra "$ra" --arg tt "$tt" --arg l "$l" --arg m "$m" \
            '{workload: $w, unit: $u, tinykv: $a, baseline: $b, ratio: $ra, target: $tt,
              limit: (if $l == "-" then null else ($l | tonumber) end), result: $m}'
    done
} | jq -s --arg host "$(hostname)" --arg nproc "$(nproc)" --arg sqlite "$("$sq" --version | cut -d' ' -f1)" \
    --arg hf "$(hyperfine --version | cut -d' ' -f2)" --arg tk "$("$tk" --version)" \
    --arg jm "$journal_mode" --arg sy "$synchronous" --arg date "$(date -u +%FT%TZ)" --argjson pairs "$pairs" '
    {date: $date, host: $host, nproc: ($nproc | tonumber), pairs: $pairs, tinykv: $tk, sqlite3: $sqlite, hyperfine: $hf,
     sqlite3_settings: {journal_mode: $jm, synchronous: ($sy | tonumber)},
     note: "times: median of all runs (all keys pooled); memory: largest max RSS of the samples; baseline: sqlite3, or for the last three rows the figure named in the workload",
     rows: .}' >"$outdir/summary.json"

printf '\n%-52s %5s %10s %10s %7s  %-18s %s\n' workload unit tinykv baseline ratio target result
for r in "${rows[@]}"; do
    IFS='|' read -r w u a b ra tt l m <<<"$r"
    printf '%-52s %5s %10s %10s %7s  %-18s %s\n' "$w" "$u" "$a" "$b" "$ra" "$tt" "$m"
done
echo
echo "baseline: sqlite3 $("$sq" --version | cut -d' ' -f1) (journal_mode=$journal_mode, synchronous=$synchronous), except the last three rows"
echo "results: $outdir/summary.csv, summary.json, *.json (hyperfine), memory.csv"

# --- chart -----------------------------------------------------------------------
((chart)) || exit 0
blue=$((16#2a7ab9))
grey=$((16#9e9e9e))
dat=$outdir/chart.dat
{
    echo "# panel blocks: label value colour"
    printf 'tinykv %s %d\nsqlite3 %s %d\n\n\n' "$g_tk" $blue "$g_sq" $grey
    printf 'tinykv %s %d\nsqlite3 %s %d\n\n\n' "$s_tk" $blue "$s_sq" $grey
    printf 'tinykv %s %d\nsqlite3 %s %d\n\n\n' "$l_tk" $blue "$l_sq" $grey
    printf 'tinykv %s %d\nsqlite3 %s %d\n\n\n' "$d_tk" $blue "$d_sq" $grey
    printf 'tinykv %s %d\nsqlite3 %s %d\n\n\n' "$k_tk" $blue "$k_sq" $grey
    hs=$(human "$small") hb=$(human "$pairs")
    printf '"tinykv\\n%s" %s %d\n"tinykv\\n%s" %s %d\n"sqlite3\\n%s" %s %d\n"sqlite3\\n%s" %s %d\n' \
        "$hs" "$m1_tk" $blue "$hb" "$mb_tk" $blue "$hs" "$m1_sq" $grey "$hb" "$mb_sq" $grey
} >"$dat"
mem_top=$(printf '%s\n' 20 "$m1_tk" "$mb_tk" "$m1_sq" "$mb_sq" | sort -g | tail -1)
mkdir -p "$root/docs"
# The plot itself is in chart.gp (terminal-free, so it can be rendered to any
# format): gnuplot -e "set terminal pngcairo size 1500,450; set output 'x.png'" chart.gp
cat >"$outdir/chart.gp" <<EOF
set multiplot layout 1,6 title "tinykv vs sqlite3 $("$sq" --version | cut -d" " -f1), $(human "$pairs") pairs (median; dashed: the target; lower is better)"
set style fill solid 0.9 border -1
set boxwidth 0.6
set grid ytics lc rgb '#dddddd'
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set bmargin 4
set xtics nomirror scale 0
set ytics nomirror
set border 3
unset key
set label 99 'target' at graph 0.02, first 0 textcolor rgb '#c0392b' font ',10' front
do for [i=0:5] {
    unset arrow
    set label 99 at graph 0.03, first 0
    if (i == 0) { set title 'get, one-shot'; set ylabel 'ms'; lim = $g_sq * 0.8 }
    if (i == 1) { set title 'set, one-shot, durable'; set ylabel 'ms'; lim = $s_sq * 0.8 }
    if (i == 2) { set title 'load from a pipe'; set ylabel 's'; lim = $l_sq * 0.5 }
    if (i == 3) { set title 'dump'; set ylabel 's'; lim = $d_sq * 0.5 }
    if (i == 4) { set title 'keys --prefix'; set ylabel 'ms'; lim = $k_sq * 0.8 }
    if (i == 5) { set title 'peak memory of get'; set ylabel 'MiB'; lim = 20; set yrange [0:$mem_top * 1.15]; set xtics font ',9' }
    if (lim > 0) {
        set arrow 1 from graph 0, first lim to graph 1, first lim nohead dt 2 lw 2 lc rgb '#c0392b' front
        set label 99 at graph 0.03, first lim offset 0, 0.6
        set label 99 'target'
    } else {
        set label 99 ''
    }
    plot '$dat' index i using 0:2:3:xtic(1) with boxes lc rgb variable, \
         '' index i using 0:2:(sprintf("%.3g", \$2)) with labels offset 0, 0.7 font ',10'
}
unset multiplot
EOF
gnuplot -e "set terminal svg size 1500,450 dynamic font 'sans,12' background rgb 'white'; set output '$root/docs/bench-cli.svg'" "$outdir/chart.gp"
echo "chart: $root/docs/bench-cli.svg"
