#!/usr/bin/env bash
# Regenerates the seed corpus under fuzz/seeds/ from real files: a database
# written by the tinykv binary (with small segments, so it seals and
# compacts), its dumps in every format, REPL lines, and requests for the
# server's parser. Run from anywhere; the seeds are committed, so this is
# needed only when the formats change.
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

rm -rf "${seeds:?}"/{record,log_scan,index,format_tsv,format_jsonl,format_resp,format_rdb,repl_words,serve_resp}
mkdir -p "$seeds"/{record,log_scan,index,format_tsv,format_jsonl,format_resp,format_rdb,repl_words,serve_resp}
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
for fmt in tsv jsonl resp rdb; do
    "$bin" -d "$db" dump --format "$fmt" > "$seeds/format_$fmt/dump.$fmt"
    "$bin" -d "$db" dump --format "$fmt" --prefix user:1 > "$seeds/format_$fmt/prefix.$fmt"
done
printf 'a\t1\n\nb\t\\x32' > "$seeds/format_tsv/blank-and-no-newline.tsv"
printf '\n  \r\n{"value":"v","key_base64":"aw=="}\r\n' > "$seeds/format_jsonl/base64-crlf.jsonl"
printf '*3\r\n$3\r\nsEt\r\n$1\r\nk\r\n$0\r\n\r\n' > "$seeds/format_resp/lowercase.resp"
# An RDB file as redis-server writes one (aux fields, integer and LZF
# strings, expiry), when redis-server is installed.
if command -v redis-server > /dev/null; then
    rdir=$work/redis
    mkdir -p "$rdir"
    redis-server --port 0 --unixsocket "$rdir/sock" --dir "$rdir" --save "" --appendonly no \
        --enable-debug-command yes --daemonize yes --pidfile "$rdir/pid" > /dev/null
    for _ in $(seq 100); do redis-cli -s "$rdir/sock" ping > /dev/null 2>&1 && break; sleep 0.1; done
    {
        echo 'DEBUG POPULATE 20'
        echo 'SET int 12345'
        echo "SET long $(printf 'z%.0s' $(seq 200))"
        echo 'SET expiring v PXAT 4000000000123'
        echo 'SAVE'
        echo 'SHUTDOWN NOSAVE'
    } | redis-cli -s "$rdir/sock" > /dev/null || true
    cp "$rdir/dump.rdb" "$seeds/format_rdb/redis.rdb"
fi
# REPL lines: the script above, one line a file, and some odd ones.
i=0
while IFS= read -r line; do
    i=$((i + 1))
    [[ $((i % 50)) -eq 1 || $i -gt 300 ]] && printf '%s' "$line" > "$seeds/repl_words/line-$i.txt"
done < "$script"
printf '%s' 'get "my k' > "$seeds/repl_words/unclosed.txt"
printf '%s' 'set a\ b "\q"' > "$seeds/repl_words/bad-escape.txt"
printf '%s' "set \"a\"'b'c \"\" x\\" > "$seeds/repl_words/joined.txt"
# Requests for the server's parser (serve_resp): the first byte holds the
# number of cuts (bits 1-3; bit 0 picks the limits before AUTH), then two
# bytes (little-endian) per cut, then the stream. Real requests, pipelined
# and inline, and the malformed ones of tests/serve_malformed.rs.
s=$seeds/serve_resp
bulk() { printf '$%d\r\n%s\r\n' "${#1}" "$1"; }
cmd() { printf '*%d\r\n' $#; for a in "$@"; do bulk "$a"; done; }
{ printf '\x06\x03\x00\x09\x00\x14\x00'; cmd SET k v; cmd GET k; } > "$s/set-get.resp"
{ printf '\x04\x01\x00\x1e\x00'; cmd MSET a 1 b 'two words'; cmd MGET a b c; } > "$s/mset-mget.resp"
{ printf '\x06\x05\x00\x64\x00\x90\x01'; for i in $(seq 1 20); do cmd SET "key:$i" "value $i"; done; cmd PING; } > "$s/pipelined.resp"
{ printf '\x06\x04\x00\x05\x00\x1e\x00'; printf 'PING\r\nset "a key" '"'"'a value'"'"'\nget "a key"\r\n\r\n   \n\x00\xff\x01 x\r\nQUIT\r\n'; } > "$s/inline.txt"
{ printf '\x02\x0c\x00'; printf '*0\r\n*-1\r\nECHO hi\r\n*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n*2\r\n$4\r\nPING\r\n$0\r\n\r\n'; } > "$s/mixed.resp"
{ printf '\x03\x07\x00'; cmd AUTH secret; cmd HELLO 2; } > "$s/auth-unauthenticated.resp"
printf '\x01*11\r\n' > "$s/too-many-args-unauthenticated.resp"
{ printf '\x06\x58\x02\x59\x02\x70\x17'; printf '*2000\r\n'; for _ in $(seq 1 1999); do printf '$0\r\n\r\n'; done; } > "$s/empty-bulks.resp"
{ printf '\x04\x16\x00\x18\x00'; printf '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000000\r\nabc'; } > "$s/declared-large.resp"
{ printf '\x04\x64\x00\xff\xff'; head -c 71680 /dev/zero | tr '\0' a; } > "$s/endless-inline.txt"
bad() { { printf '\x02\x02\x00'; printf "$2"; } > "$s/$1.resp"; }
bad bad-type-byte '*1\r\n+PING\r\n'
bad negative-bulk '*1\r\n$-5\r\n'
bad non-numeric-bulk '*1\r\n$abc\r\n'
bad bulk-2gib '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2147483648\r\n'
bad bulk-over-256mib '*1\r\n$268435457\r\n'
bad huge-array '*2000000000\r\n'
bad negative-looking-array '*-x\r\n'
bad endless-header "*1\r\n\$$(printf '9%.0s' $(seq 1 100))"
bad bulk-without-crlf '*1\r\n$4\r\nPINGxx'
bad unbalanced-quotes 'SET "open k\r\n'
bad quote-then-word 'set "a"b\r\n'
bad lf-only-header '*1\n'
bad empty-bulk-length '*1\r\n$\r\n'
bad bad-after-good 'SET a 1\r\nGET a\r\n*1\r\n$x\r\n'
cargo test --quiet --test fuzz_corpus -- --ignored write_sample_seeds > /dev/null
echo "seeds in $seeds:"
du -sh "$seeds"/*
