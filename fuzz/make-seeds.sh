#!/usr/bin/env bash
# Regenerates the seed corpus under fuzz/seeds/ from real files: a database
# written by the tinykv binary (with small segments, so it seals and
# compacts), its dumps in every format, and REPL lines. Run from anywhere;
# the seeds are committed, so this is needed only when the formats change.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=fuzz/seeds
cargo build --quiet --features testing
bin=${CARGO_TARGET_DIR:-target}/debug/tinykv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One database that seals often (segment_size) and is never compacted
# automatically, so its files hold overwrites, tombstones and batches.
export TINYKV_TEST_OPTIONS=segment_size=4096,seal_on_close=1000000,compact_min_bytes=100000000
db=$work/db
script=$work/script.txt
{
    for i in $(seq 1 300); do echo "set user:$i \"name $i, some padding to fill segments\""; done
    echo 'set "tab\tkey" "nul\x00 and \xff bytes"'
    echo "set 'quoted key' 'it''s'"
    echo 'set empty ""'
    echo 'del user:3 user:4'
    echo 'set user:1 "new value\r\n"'
    echo 'del "tab\tkey"'
    echo 'set caf\xc3\xa9 "\xf0\x9f\x98\x80 emoji"'
} > "$script"
"$bin" -d "$db" < "$script" > /dev/null
printf 'k\tv\nbatch:1\tone\nbatch:2\ttwo\\x00\n' | "$bin" -d "$db" load --format tsv > /dev/null
"$bin" -d "$db" del batch:2 > /dev/null

rm -rf "${seeds:?}"/{record,log_scan,index,format_tsv,format_jsonl,format_resp,repl_words}
mkdir -p "$seeds"/{record,log_scan,index,format_tsv,format_jsonl,format_resp,repl_words}
# Logs: the active one and a few segments; indexes: the same segments'.
cp "$db/wal.log" "$seeds/log_scan/wal.log"
mapfile -t segs < <(cd "$db" && ls seg-*.log | head -n 4)
for s in "${segs[@]}"; do
    cp "$db/$s" "$seeds/log_scan/$s"
    cp "$db/${s%.log}.idx" "$seeds/index/${s%.log}.idx"
done
# A compacted copy: its segments are in key order, with sorted indexes.
cp -r "$db" "$work/compacted"
"$bin" -d "$work/compacted" compact > /dev/null
first=$(cd "$work/compacted" && ls seg-*.log | head -n 1)
cp "$work/compacted/$first" "$seeds/log_scan/sorted-$first"
cp "$work/compacted/${first%.log}.idx" "$seeds/index/sorted-${first%.log}.idx"
# Records: each log without its file header starts with a record; and a
# batch (load writes one) as it lies in the log.
for f in "$seeds"/log_scan/*; do tail -c +17 "$f" | head -c 600 > "$seeds/record/$(basename "$f").rec"; done
tail -c +17 "$db/wal.log" > "$seeds/record/wal-tail.rec"
# Dumps, and what the other formats look like mid-file.
for fmt in tsv jsonl resp; do
    "$bin" -d "$db" dump --format "$fmt" > "$seeds/format_$fmt/dump.$fmt"
    "$bin" -d "$db" dump --format "$fmt" --prefix user:1 > "$seeds/format_$fmt/prefix.$fmt"
done
printf 'a\t1\n\nb\t\\x32' > "$seeds/format_tsv/blank-and-no-newline.tsv"
printf '\n  \r\n{"value":"v","key_base64":"aw=="}\r\n' > "$seeds/format_jsonl/base64-crlf.jsonl"
printf '*3\r\n$3\r\nsEt\r\n$1\r\nk\r\n$0\r\n\r\n' > "$seeds/format_resp/lowercase.resp"
# REPL lines: the script above, one line a file, and some odd ones.
i=0
while IFS= read -r line; do
    i=$((i + 1))
    [[ $((i % 50)) -eq 1 || $i -gt 300 ]] && printf '%s' "$line" > "$seeds/repl_words/line-$i.txt"
done < "$script"
printf '%s' 'get "my k' > "$seeds/repl_words/unclosed.txt"
printf '%s' 'set a\ b "\q"' > "$seeds/repl_words/bad-escape.txt"
printf '%s' "set \"a\"'b'c \"\" x\\" > "$seeds/repl_words/joined.txt"
cargo test --quiet --test fuzz_corpus -- --ignored write_sample_seeds > /dev/null
echo "seeds in $seeds:"
du -sh "$seeds"/*
