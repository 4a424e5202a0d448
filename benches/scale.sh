#!/usr/bin/env bash
# The scale benchmark (issue #14; PRODUCT.md §4 and the cost-at-scale rows of
# §5): what each command costs as the database grows from 1 thousand to 10
# million pairs (100 million as an opt-in), tinykv against itself, every
# figure of one run on one machine, as ratios.
#
# Usage (from anywhere in a clone):
#
#   bash benches/scale.sh [--chart | --no-chart] [OUTDIR]
#   SCALE_SIZES="1000 1000000 10000000 100000000" bash benches/scale.sh
#
# The second line is the 100M opt-in: it needs about 40 GB of free disk (the
# compaction step holds the old files, twice the live data, beside its
# output); its loads take the memory of the 10M ones (see
# docs/benchmarks-scale.md); it takes about an hour.
#
# For each size N (16-byte keys, 100-byte values; the release binary):
#   load_sorted, load_shuffled   `load FILE` into an empty database, from the
#                                pairs in key order and shuffled (shuf);
#   count_first                  the first `count` after the load;
#   get, open, count, stats      one-shot commands, hyperfine (open is
#                                `exists` of a key that is not there);
#   check                        `check` of the loaded database;
#   load_overwrite               96% of the pairs loaded again with new values
#                                (49% of the files dead; all of them would
#                                reach the automatic compaction threshold, 2x
#                                the size after the load, and compact inside
#                                that load);
#   compact                      `compact`, its throughput (bytes written / s)
#                                beside the disk's sequential write speed,
#                                the mean of dd conv=fsync just before and
#                                just after;
#   *_compacted                  count, get, open again on the compacted files;
# with the peak memory (GNU time's max RSS) of each, and the space (bytes of
# the files) after each load and after the compaction against the live data,
# N x (16 + 100) bytes.
#
# Written to OUTDIR (default target/bench-scale): results.tsv (every command's
# time and peak memory at every size), space.tsv, disk.tsv (compaction against
# dd), targets.tsv and summary.json (each target with its ratio and whether it
# is met), the hyperfine --export-json files, and chart.gp. The chart goes to
# docs/bench-scale.svg (always, unless --no-chart). Datasets and databases go
# to OUTDIR/work and are removed as soon as they are done with (BENCH_KEEP=1
# keeps the databases: with the 100M opt-in, the shuffled load's 12.5 GB
# stay beside the next steps', and its compaction may not find the room).
#
# Knobs: SCALE_SIZES (default "1000 1000000 10000000"), SCALE_RUNS (timed runs
# per key of the one-shot commands, default 10), SCALE_LOAD_RUNS (runs of each
# load and of check; default 3, 1 above 10M pairs), SCALE_DD_MIB (size of the
# dd write, default 1024).
#
# It installs hyperfine, jq, GNU time, gnuplot and openssl with apt when they
# are missing (as root, or through sudo), like benches/cli.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export LC_ALL=C # decimal points, and sort order, the same everywhere

chart=1
outdir=target/bench-scale
for arg in "$@"; do
    case $arg in
    --chart) chart=1 ;;
    --no-chart) chart=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "scale.sh: unknown option $arg" >&2
        exit 2
        ;;
    *) outdir=$arg ;;
    esac
done
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

read -r -a sizes <<<"$(tr ' ' '\n' <<<"${SCALE_SIZES:-1000 1000000 10000000}" | grep . | sort -n -u | tr '\n' ' ')"
for n in "${sizes[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || {
        echo "scale.sh: SCALE_SIZES holds '$n', not a number of pairs" >&2
        exit 2
    }
done
runs=${SCALE_RUNS:-10}
dd_mib=${SCALE_DD_MIB:-1024}
nkeys=10      # distinct random keys for get (hyperfine --parameter-list)
base=${sizes[0]} # flat targets: each size against the smallest
# Linear targets: the cost per pair against the second size, since at the
# smallest a load or a compaction is a few milliseconds of process start.
lin=${sizes[1]:-${sizes[0]}}
live_pair=116 # bytes of live data a pair: 16-byte key + 100-byte value
human() { awk -v n="$1" 'BEGIN {if (n >= 1e6 && n % 1e6 == 0) print n / 1e6 "M"; else if (n >= 1000 && n % 1000 == 0) print n / 1000 "k"; else print n}'; }

# --- tools -------------------------------------------------------------------
source benches/lib.sh
need_tools hyperfine=hyperfine jq=jq /usr/bin/time=time gnuplot=gnuplot-nox openssl=openssl shuf=coreutils

say() { printf '\n== %s\n' "$*" >&2; }
die() {
    echo "scale.sh: $*" >&2
    exit 2
}

# --- build -------------------------------------------------------------------
say "building tinykv (release)"
cargo build --release --quiet --bin tinykv
target_dir=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
tk=$target_dir/release/tinykv
[[ -x $tk ]] || die "no binary at $tk"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

work=$outdir/work
rm -rf "$work"
mkdir -p "$work"
cleanup() { [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$work"; }
trap cleanup EXIT

# --- datasets ------------------------------------------------------------------
# key0000000000042<TAB>val0000000000042<84 pseudo-random letters>: 16-byte
# keys, 100-byte values, in key order (the dataset of benches/cli.sh). The
# overwrite is the first PCT% of the keys with values that start with "new".
gen() { # N [PREFIX [PCT]]
    awk -v n="$1" -v p="${2:-val}" -v pct="${3:-100}" 'BEGIN {
        srand(42)
        a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        for (i = 0; i < 200; i++) s = s substr(a, int(rand() * 62) + 1, 1)
        m = int(n * pct / 100)
        for (i = 0; i < m; i++) printf "key%013d\t%s%013d%s\n", i, p, i, substr(s, i % 100 + 1, 84)
    }'
}
# A fixed stream of random bytes, for a shuffle that is the same every run.
seeded() { openssl enc -aes-256-ctr -pass pass:"scale-$1" -nosalt </dev/zero 2>/dev/null; }
# stdin (N lines) -> OUT, shuffled. Above 10M lines, in buckets of about 10M
# lines (each line to a random bucket, each bucket shuffled, one after the
# other: still a uniform shuffle), so that shuf never holds more than ~1.2 GB.
shuffle() { # N OUT
    local buckets=$((($1 - 1) / 10000000 + 1)) b
    if ((buckets == 1)); then
        shuf --random-source=<(seeded 0) >"$2"
        return
    fi
    awk -v k="$buckets" -v dir="$work" 'BEGIN {srand(42)} {print > (dir "/bucket." int(rand() * k))}'
    : >"$2"
    for ((b = 0; b < buckets; b++)); do
        shuf --random-source=<(seeded "$b") "$work/bucket.$b" >>"$2"
        rm -f "$work/bucket.$b"
    done
}
# $1 distinct random indexes below $2, comma-separated, as keys
pick_keys() {
    awk -v k="$1" -v n="$2" -v seed="$3" 'BEGIN {
        srand(seed)
        if (k > n) k = n
        while (c < k) { i = int(rand() * n); if (!(i in seen)) { seen[i] = 1; out = out (c++ ? "," : "") sprintf("key%013d", i) } }
        print out
    }'
}
files_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}'; }

# --- measuring -----------------------------------------------------------------
results=$outdir/results.tsv
space=$outdir/space.tsv
disk=$outdir/disk.tsv
printf 'pairs\tcommand\tseconds\tpeak_rss_mib\tcpu_seconds\truns\tnote\n' >"$results"
printf 'pairs\tstate\tfile_bytes\tlive_bytes\tratio\tsegments\n' >"$space"
printf 'pairs\tdd_bytes\tdd_seconds\tdd_mib_s\tcompact_bytes_written\tcompact_seconds\tcompact_mib_s\tratio\tdd_before_s\tdd_after_s\n' >"$disk"
declare -A SEC RSS # [command:pairs] -> median seconds, peak RSS in MiB

# timed CMD...: runs CMD once (stdout to /dev/null, stderr to $work/cmd.err);
# sets T_SEC (wall time, from bash's microsecond clock), T_KIB (max RSS,
# GNU time's %M), T_CPU (user + system seconds, %U + %S: what the command
# used of the CPU, less moved than its wall time by other work on the
# machine) and T_RC (the exit status). Never fails itself.
timed() {
    local t0 t1
    t0=$EPOCHREALTIME
    T_RC=0
    /usr/bin/time -f '%e %M %U %S' -o "$work/time.out" "$@" >/dev/null 2>"$work/cmd.err" || T_RC=$?
    t1=$EPOCHREALTIME
    T_SEC=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')
    T_KIB=$(awk 'END {print $2 + 0}' "$work/time.out")
    T_CPU=$(awk 'END {printf "%.2f", $3 + $4}' "$work/time.out")
}
mib() { awk -v k="$1" 'BEGIN {printf "%.2f", k / 1024}'; }
median_of() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {printf "%.6f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
record() { # N COMMAND SECONDS RSS_MIB CPU_SECONDS RUNS NOTE
    SEC[$2:$1]=$3
    RSS[$2:$1]=$4
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" >>"$results"
    printf '   %-22s %12.6f s %9.2f MiB %8s s cpu  %s\n' "$2" "$3" "$4" "$5" "$7" >&2
}
record_space() { # N STATE DIR
    local b live segs
    b=$(files_bytes "$3")
    live=$(($1 * live_pair))
    segs=$(find "$3" -name 'seg-*.log' | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$b" "$live" "$(awk -v a="$b" -v l="$live" 'BEGIN {printf "%.4f", a / l}')" "$segs" >>"$space"
    printf '   space after %-12s %14s bytes, %.4fx live\n' "$2" "$b" "$(awk -v a="$b" -v l="$live" 'BEGIN {print a / l}')" >&2
}

# A load of FILE into an empty DB, RUNS times: median time, largest peak.
# A failed load (killed for lack of memory, say) is recorded, not fatal.
load_runs() { # N COMMAND FILE DB RUNS
    local times="" cpus="" peak=0 i note="" rc=0
    for ((i = 0; i < $5; i++)); do
        rm -rf "$4"
        timed "$tk" -d "$4" load "$3"
        times+=" $T_SEC"
        cpus+=" $T_CPU"
        ((T_KIB > peak)) && peak=$T_KIB
        if ((T_RC != 0)); then
            note="failed: exit $T_RC: $(tail -c 300 "$work/cmd.err" | tr '\t\n' '  ')"
            rc=1
            break
        fi
    done
    record "$1" "$2" "$(median_of <<<"$times")" "$(mib "$peak")" "$(median_of <<<"$cpus")" "$i" "$note"
    return $rc
}

# One-shot commands: times from hyperfine (every run of every key, median),
# peak memory from one GNU time run per key (the largest).
hf=(hyperfine --style basic -N --warmup 3)
hf_median() { jq '[.results[].times[]] | sort | (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end)' "$1" |
    awk '{printf "%.6f", $1}'; }
oneshot() { # N COMMAND TEMPLATE KEYS HYPERFINE-ARGS... (KEYS empty: no {key})
    local n=$1 name=$2 template=$3 keys=$4 peak=0 k cmd samples note
    shift 4
    local param=()
    if [[ -n $keys ]]; then
        param=(-L key "$keys")
        samples=${keys//,/ }
        note="hyperfine median, $(wc -w <<<"$samples") keys"
    else
        samples="1 2 3"
        note="hyperfine median"
    fi
    "${hf[@]}" "$@" "${param[@]}" --export-json "$outdir/$name-$n.json" "$template" >"$work/hf.out" 2>&1 ||
        die "hyperfine $name failed: $(tail -5 "$work/hf.out")"
    for k in $samples; do
        cmd=${template//\{key\}/$k}
        # shellcheck disable=SC2086 # the template is words without spaces
        timed $cmd
        ((T_KIB > peak)) && peak=$T_KIB
    done
    record "$n" "$name" "$(hf_median "$outdir/$name-$n.json")" "$(mib "$peak")" \
        "$(jq '[.results[] | .user + .system] | add / length' "$outdir/$name-$n.json" | awk '{printf "%.6f", $1}')" \
        "$(jq '[.results[].times[]] | length' "$outdir/$name-$n.json")" "$note"
}

# The disk's sequential write speed: dd of SCALE_DD_MIB MiB of zeros, fsynced.
dd_speed() { # sets DD_BYTES DD_SEC
    local t0 t1
    t0=$EPOCHREALTIME
    dd if=/dev/zero of="$work/dd.bin" bs=1M count="$dd_mib" conv=fsync status=none
    t1=$EPOCHREALTIME
    rm -f "$work/dd.bin"
    DD_BYTES=$((dd_mib * 1048576))
    DD_SEC=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')
}

# --- the run -----------------------------------------------------------------------
for n in "${sizes[@]}"; do
    hn=$(human "$n")
    load_n=${SCALE_LOAD_RUNS:-$((n > 10000000 ? 1 : 3))}
    db=$work/db-$hn
    sdb=$work/shuffled-$hn

    say "$hn pairs: shuffled load ($load_n runs)"
    gen "$n" | shuffle "$n" "$work/shuffled.tsv"
    if load_runs "$n" load_shuffled "$work/shuffled.tsv" "$sdb" "$load_n"; then
        record_space "$n" load_shuffled "$sdb"
    fi
    rm -f "$work/shuffled.tsv"
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$sdb"

    say "$hn pairs: sorted load ($load_n runs)"
    gen "$n" >"$work/sorted.tsv"
    load_runs "$n" load_sorted "$work/sorted.tsv" "$db" "$load_n" || die "the sorted load failed: $(cat "$work/cmd.err")"
    rm -f "$work/sorted.tsv"
    record_space "$n" load_sorted "$db"

    say "$hn pairs: one-shot commands on the loaded database"
    timed "$tk" -d "$db" count
    ((T_RC == 0)) || die "count failed: $(cat "$work/cmd.err")"
    record "$n" count_first "$T_SEC" "$(mib "$T_KIB")" "$T_CPU" 1 "the first count after the load"
    [[ $("$tk" -d "$db" count) == "$n" ]] || die "count is not $n after the load"
    keys=$(pick_keys "$nkeys" "$n" 7)
    oneshot "$n" get "$tk -d $db get {key}" "$keys" --runs "$runs"
    oneshot "$n" open "$tk -d $db exists nokey" "" --runs "$((runs * nkeys))" -i
    oneshot "$n" count "$tk -d $db count" "" --min-runs "$((runs < 3 ? runs : 3))" --max-runs "$runs"
    oneshot "$n" stats "$tk -d $db stats" "" --runs "$((runs * nkeys))"

    say "$hn pairs: check ($load_n runs)"
    times="" cpus="" peak=0
    for ((i = 0; i < load_n; i++)); do
        timed "$tk" -d "$db" check
        ((T_RC == 0)) || die "check failed: $(cat "$work/cmd.err")"
        times+=" $T_SEC"
        cpus+=" $T_CPU"
        ((T_KIB > peak)) && peak=$T_KIB
    done
    record "$n" check "$(median_of <<<"$times")" "$(mib "$peak")" "$(median_of <<<"$cpus")" "$load_n" ""

    say "$hn pairs: overwrite 96%, dd, compact"
    gen "$n" new 96 >"$work/overwrite.tsv"
    timed "$tk" -d "$db" load "$work/overwrite.tsv"
    ((T_RC == 0)) || die "the overwrite failed: $(cat "$work/cmd.err")"
    rm -f "$work/overwrite.tsv"
    [[ $("$tk" -d "$db" stats --json | jq -r .last_compaction) == null ]] ||
        die "the overwrite compacted on its own: the compaction cannot be timed"
    record "$n" load_overwrite "$T_SEC" "$(mib "$T_KIB")" "$T_CPU" 1 "96% of the pairs again, into the loaded database"
    record_space "$n" overwritten "$db"
    # dd just before and just after: this VM's disk speed moves by more
    # than half between runs minutes apart; the mean of the two times is
    # the yardstick.
    dd_speed
    dd_before=$DD_SEC
    timed "$tk" -d "$db" compact
    ((T_RC == 0)) || die "compact failed: $(cat "$work/cmd.err")"
    dd_speed
    record "$n" compact "$T_SEC" "$(mib "$T_KIB")" "$T_CPU" 1 ""
    record_space "$n" compacted "$db"
    written=$(find "$db" -type f -name 'seg-*' -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')
    awk -v n="$n" -v db="$DD_BYTES" -v d1="$dd_before" -v d2="$DD_SEC" -v cb="$written" -v cs="$T_SEC" 'BEGIN {
        ds = (d1 + d2) / 2; d = db / ds / 1048576; c = cb / cs / 1048576
        printf "%s\t%s\t%.6f\t%.1f\t%s\t%s\t%.1f\t%.4f\t%s\t%s\n", n, db, ds, d, cb, cs, c, c / d, d1, d2
        printf "   dd %.1f MiB/s (%.1f before, %.1f after), compaction %.1f MiB/s: %.3fx\n",
            d, db / d1 / 1048576, db / d2 / 1048576, c, c / d > "/dev/stderr"
    }' >>"$disk"

    say "$hn pairs: one-shot commands on the compacted database"
    [[ $("$tk" -d "$db" get key0000000000000 | cut -c1-3) == new ]] || die "the overwrite is not what get answers"
    timed "$tk" -d "$db" count
    record "$n" count_first_compacted "$T_SEC" "$(mib "$T_KIB")" "$T_CPU" 1 "the first count after the compaction"
    [[ $("$tk" -d "$db" count) == "$n" ]] || die "count is not $n after the compaction"
    oneshot "$n" get_compacted "$tk -d $db get {key}" "$keys" --runs "$runs"
    oneshot "$n" open_compacted "$tk -d $db exists nokey" "" --runs "$((runs * nkeys))" -i
    oneshot "$n" count_compacted "$tk -d $db count" "" --min-runs "$((runs < 3 ? runs : 3))" --max-runs "$runs"
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$db"
done

# --- targets -------------------------------------------------------------------------
# One row per target, command and size: the figure, what it is compared with,
# the ratio, the limit and whether it is met.
targets=$outdir/targets.tsv
printf 'target\tcommand\tpairs\tvalue\tbaseline\tratio\tlimit\tresult\n' >"$targets"
verdict() { # RATIO LIMIT le|ge
    awk -v r="$1" -v l="$2" -v op="$3" 'BEGIN {if (r == "") print "no figure"; else print ((op == "le" ? r <= l : r >= l) ? "met" : "NOT met")}'
}
target() { # TARGET COMMAND N VALUE BASELINE RATIO LIMIT le|ge
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$(verdict "$6" "$7" "$8")" >>"$targets"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print ""; else printf "%.3f", a / b}'; }

# one-shot commands: flat from the smallest size (<= 1.3x)
for c in get open count count_first stats get_compacted open_compacted count_compacted count_first_compacted; do
    for n in "${sizes[@]:1}"; do
        target "time flat (<= 1.3x the ${base}-pair time)" "$c" "$n" "${SEC[$c:$n]:-}" "${SEC[$c:$base]:-}" \
            "$(ratio "${SEC[$c:$n]:-}" "${SEC[$c:$base]:-}")" 1.3 le
    done
done
# every command's peak memory <= 64 MiB at every size
commands=(load_sorted load_shuffled count_first get open count stats check load_overwrite compact
    count_first_compacted get_compacted open_compacted count_compacted)
for c in "${commands[@]}"; do
    for n in "${sizes[@]}"; do
        target "peak memory <= 64 MiB" "$c" "$n" "${RSS[$c:$n]:-}" 64 "$(ratio "${RSS[$c:$n]:-}" 64)" 1 le
    done
done
# load and compaction linear: the time per pair within 1.3x of that at the second size
for c in load_sorted load_shuffled compact; do
    for n in "${sizes[@]}"; do
        ((n > lin)) || continue
        per=$(awk -v s="${SEC[$c:$n]:-}" -v n="$n" 'BEGIN {if (s != "") printf "%.9f", s / n}')
        per_lin=$(awk -v s="${SEC[$c:$lin]:-}" -v n="$lin" 'BEGIN {if (s != "") printf "%.9f", s / n}')
        target "time linear (per pair <= 1.3x that at $lin)" "$c" "$n" "$per" "$per_lin" "$(ratio "$per" "$per_lin")" 1.3 le
    done
done
# compaction >= 50% of the disk's sequential write speed, from the second size on
while IFS=$'\t' read -r n _ _ dd _ _ cm r _; do
    [[ $n == pairs ]] || ((n < lin)) || target "compaction >= 0.5x dd's write speed (MiB/s)" compact "$n" "$cm" "$dd" "$r" 0.5 ge
done <"$disk"
# space after a load <= 1.15x the live data, after compact <= 1.1x
while IFS=$'\t' read -r n state b live r _; do
    case $state in
    load_sorted | load_shuffled) target "space after load <= 1.15x live (bytes)" "$state" "$n" "$b" "$live" "$r" 1.15 le ;;
    compacted) target "space after compact <= 1.1x live (bytes)" "$state" "$n" "$b" "$live" "$r" 1.1 le ;;
    esac
done <"$space"

# --- summary ---------------------------------------------------------------------------
tsv_json() { jq -R -s 'split("\n") | map(select(length > 0) | split("\t")) | .[0] as $h | .[1:]
    | map([$h, .] | transpose | map({(.[0]): (.[1] | (tonumber? // .))}) | add)' "$1"; }
jq -n --arg date "$(date -u +%FT%TZ)" --arg host "$(hostname)" --argjson nproc "$(nproc)" \
    --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
    --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
    --arg fs "$(df -T "$outdir" | awk 'NR == 2 {print $1 " " $2}')" --arg kernel "$(uname -r)" \
    --arg tk "$("$tk" --version)" --arg commit "$commit" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --argjson sizes "$(printf '%s\n' "${sizes[@]}" | jq -s .)" --argjson base "$base" --argjson lin "$lin" \
    --argjson results "$(tsv_json "$results")" --argjson space "$(tsv_json "$space")" \
    --argjson disk "$(tsv_json "$disk")" --argjson targets "$(tsv_json "$targets")" '
    {date: $date, host: $host, nproc: $nproc, cpu: $cpu, memory: $mem, filesystem: $fs, kernel: $kernel,
     tinykv: $tk, commit: $commit, load_average_at_end: $load, sizes: $sizes,
     flat_baseline_pairs: $base, linear_baseline_pairs: $lin,
     note: "seconds: median of the runs (hyperfine for one-shot commands, every key pooled); peak_rss_mib: the largest max RSS (GNU time) of the samples; space: bytes of the files against pairs x 116",
     results: $results, space: $space, disk: $disk, targets: $targets,
     missed: [$targets[] | select(.result != "met")]}' >"$outdir/summary.json"

# Every command at every size: time, peak memory, and the time against the smallest size.
{
    printf '\n%-22s' command
    for n in "${sizes[@]}"; do printf ' %24s' "$(human "$n"): s / MiB"; done
    printf ' %8s\n' "x$(human "$base")"
    for c in "${commands[@]}"; do
        printf '%-22s' "$c"
        for n in "${sizes[@]}"; do
            if [[ -n ${SEC[$c:$n]:-} ]]; then printf ' %14.6f / %7.2f' "${SEC[$c:$n]}" "${RSS[$c:$n]}"; else printf ' %24s' -; fi
        done
        last=${sizes[-1]}
        printf ' %8s\n' "$(ratio "${SEC[$c:$last]:-}" "${SEC[$c:$base]:-}")"
    done
    echo
    column -t -s $'\t' "$space"
    echo
    column -t -s $'\t' "$disk"
    echo
    column -t -s $'\t' "$targets"
    echo
    awk -F'\t' 'NR > 1 {t++; if ($8 == "met") m++} END {printf "%d of %d target rows met\n", m, t}' "$targets"
    echo "results: $outdir/results.tsv, space.tsv, disk.tsv, targets.tsv, summary.json"
}

# --- chart -----------------------------------------------------------------------------
((chart)) || exit 0
dat=$outdir/chart.dat
series() { # COMMAND...: one block per command, "pairs seconds mib"
    local c n
    for c in "$@"; do
        echo "# $c"
        for n in "${sizes[@]}"; do
            [[ -n ${SEC[$c:$n]:-} ]] && echo "$n ${SEC[$c:$n]} ${RSS[$c:$n]}"
        done
        printf '\n\n'
    done
}
quick=(get open stats count get_compacted open_compacted)
whole=(load_sorted load_shuffled compact check count)
memory=(load_sorted load_shuffled compact check count get open)
all=("${quick[@]}" "${whole[@]}" "${memory[@]}")
series "${all[@]}" >"$dat"
awk -F'\t' 'NR > 1 && $2 != "overwritten" {print $1, $5 > ("'"$outdir"'/space-" $2 ".dat")}' "$space"
for s in load_sorted load_shuffled compacted; do touch "$outdir/space-$s.dat"; done
# one colour a command, the same in every panel
declare -A colour=([load_sorted]='#1f77b4' [load_shuffled]='#ff7f0e' [compact]='#2ca02c' [check]='#d62728'
    [count]='#9467bd' [stats]='#8c564b' [get]='#e377c2' [open]='#17becf' [get_compacted]='#bcbd22' [open_compacted]='#7f7f7f')
plots() { # FIRST-INDEX COLUMN COMMAND...: the plot clauses of a panel
    local i=$1 col=$2 c out=() t
    shift 2
    for c in "$@"; do
        t=${c//_/ }
        out+=("'$dat' index $i using 1:$col with linespoints pt 7 ps 0.6 lw 2 lc rgb '${colour[$c]}' title '$t'")
        i=$((i + 1))
    done
    local IFS=,
    echo "${out[*]}"
}
q0=0 w0=${#quick[@]} m0=$((${#quick[@]} + ${#whole[@]}))
xmin=$(awk -v n="$base" 'BEGIN {print n / 2}')
xmax=$(awk -v n="${sizes[-1]}" 'BEGIN {print n * 2}')
# shellcheck disable=SC2016 # $2 is gnuplot's column, not the shell's
cat >"$outdir/chart.gp" <<EOF
set multiplot layout 2,2 title "tinykv at scale: $(human "$base") to $(human "${sizes[-1]}") pairs of 16-byte keys and 100-byte values (commit $commit; dashed: the target)"
set logscale x
set xrange [$xmin:$xmax]
set format x "%.0s%c"
set xlabel 'pairs'
set grid lc rgb '#dddddd'
set key top left Left reverse font ',9' samplen 2
set border 3
set xtics nomirror
set ytics nomirror
set logscale y
set format y "%g"
set title 'one-shot commands (median)'
set ylabel 'ms'
plot $(plots $q0 '($2*1000)' "${quick[@]}"), \\
     ${SEC[get:$base]:-0} * 1000 * 1.3 dt 2 lw 2 lc rgb '#c0392b' title '1.3x get at $(human "$base")'
set title 'load, compaction, check and count (median)'
set ylabel 's'
plot $(plots "$w0" 2 "${whole[@]}"), \\
     x * ${SEC[load_sorted:$lin]:-0} / $lin dt 3 lw 1 lc rgb '#777777' title 'linear through load sorted at $(human "$lin")'
set title 'peak memory (max RSS)'
set ylabel 'MiB'
plot $(plots "$m0" 3 "${memory[@]}"), \\
     64 dt 2 lw 2 lc rgb '#c0392b' title '64 MiB'
unset logscale y
set title 'space: bytes of the files / live data'
set ylabel 'x live'
plot '$outdir/space-load_sorted.dat' using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '${colour[load_sorted]}' title 'after load, sorted', \\
     '$outdir/space-load_shuffled.dat' using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '${colour[load_shuffled]}' title 'after load, shuffled', \\
     '$outdir/space-compacted.dat' using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '${colour[compact]}' title 'after compact', \\
     1.15 dt 2 lw 2 lc rgb '#c0392b' title '1.15 (after load)', \\
     1.1 dt 3 lw 2 lc rgb '#c0392b' title '1.1 (after compact)'
unset multiplot
EOF
mkdir -p "$root/docs"
gnuplot -e "set terminal svg size 1200,850 dynamic font 'sans,11' background rgb 'white'; set output '$root/docs/bench-scale.svg'" "$outdir/chart.gp"
echo "chart: $root/docs/bench-scale.svg"
