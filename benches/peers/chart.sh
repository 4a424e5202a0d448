#!/bin/sh
# Draws the library benchmark's results (peers.json) as an SVG chart.
# usage: benches/peers/chart.sh [peers.json] [out.svg]
# Needs jq and gnuplot (Debian: apt-get install -y jq gnuplot-nox).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
in=${1:-$here/target/peers.json}
out=${2:-$here/../../docs/bench-library.svg}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Throughput rows: a short label, then one column per engine (ops/s).
names='{"bulk":"bulk load","bulk_sorted":"bulk load|(key order)","get1":"gets|1 thread",
        "get2":"gets|2 threads","scan":"prefix|100 (rnd)","range":"range|1000 (rnd)",
        "full":"full, pairs|(rnd)","scan_compacted":"prefix|100 (cmp)",
        "range_compacted":"range|1000 (cmp)","full_compacted":"full, pairs|(cmp)",
        "durable":"durable|sets",
        "batch":"durable|batches","delete":"durable|deletes","overwrite":"overwrite|all (bulk)",
        "size_before":"after|overwrite","size_after":"after|compact"}'
nan='if . == null then "NaN" else . end'
jq -r --argjson n "$names" '.rows[] | select(.unit != "bytes")
       | [$n[.id], (.values | .tinykv, .redb, .sled, .sqlite | '"$nan"')] | @tsv' \
    "$in" | sed 's/|/\\n/g' > "$tmp/ops.tsv"
raw=$(jq -r '.raw_append_fsync_ops_per_sec' "$in")
# Sizes in MB.
jq -r --argjson n "$names" '.rows[] | select(.unit == "bytes")
       | [$n[.id], (.values | .tinykv, .redb, .sled, .sqlite | if . == null then "NaN" else . / 1e6 end)]
       | @tsv' "$in" | sed 's/|/\\n/g' > "$tmp/size.tsv"
live=$(jq -r '.live_bytes / 1e6' "$in")
keys=$(jq -r '.keys' "$in")
# An .svg name gets SVG; a .png name a PNG (for a quick look).
case "$out" in
*.png) term='pngcairo size 1500,600 font "sans,10" background "white"' ;;
*) term='svg size 1500,600 dynamic font "sans,11" background "white"' ;;
esac

gnuplot <<GP
set terminal $term
set output "$out"
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top right
set grid ytics
set bmargin 4
set multiplot layout 1,2 title "tinykv library benchmark beside redb, sled and SQLite ($keys keys, 16 B keys, 100 B values; higher is better)"
set size 0.72,0.95
set origin 0,0
set logscale y
set ylabel "operations per second (log scale)"
set xtics scale 0 font ",8" noenhanced
set format y "%.0s%c"
plot "$tmp/ops.tsv" using 2:xtic(1) title "tinykv" lc rgb "#d95f02", \
     "" using 3 title "redb" lc rgb "#1b9e77", \
     "" using 4 title "sled" lc rgb "#7570b3", \
     "" using 5 title "SQLite" lc rgb "#666666", \
     $raw with lines dt 2 lw 2 lc rgb "black" title "raw append+fsync"
unset logscale y
set size 0.28,0.95
set origin 0.72,0
set ylabel "MB on disk (lower is better)"
set format y "%g"
set yrange [0:*]
set key top left
plot "$tmp/size.tsv" using 2:xtic(1) notitle lc rgb "#d95f02", \
     "" using 3 notitle lc rgb "#1b9e77", \
     "" using 4 notitle lc rgb "#7570b3", \
     "" using 5 notitle lc rgb "#666666", \
     $live with lines dt 2 lw 2 lc rgb "black" title "live data"
unset multiplot
GP
echo "wrote $out"
