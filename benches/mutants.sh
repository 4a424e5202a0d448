#!/usr/bin/env bash
# Mutation testing of the engine, one source file (or folder) at a time:
# cargo-mutants changes the code one small way at a time (an operator, a
# constant, a function's body) and runs the tests that cover that file; a
# change no test notices ("missed") is a place the tests are blind.
#
# Usage (from anywhere in a clone):
#
#   bash benches/mutants.sh [--iterate] AREA...    # AREA: see the table below, or `all`
#   bash benches/mutants.sh --list                 # the areas, their files and tests
#
# Results go to target/mutants/AREA/mutants.out/ (caught.txt, missed.txt,
# timeout.txt, unviable.txt, outcomes.json). `--iterate` reruns only what the
# last run of that area did not catch. Extra arguments after `--` go to
# cargo-mutants (e.g. `-- --re replay_wal` to try only some mutants).
#
# It is slow on purpose and not part of `cargo test` or .ci/run: each mutant
# is a rebuild and a test run. It runs one job at a time at low priority
# (MUTANTS_JOBS, MUTANTS_NICE to change that). MUTANTS_TIMEOUT (seconds)
# replaces each area's test timeout: on a loaded machine the unmutated tests
# alone can pass 30 s. Every process it starts may map at most
# MUTANTS_MEM_GB (default 8) GiB: a mutant that makes a walk endless feeds
# a `collect()` until the timeout, and that must not take the machine's
# memory from others. It installs cargo-mutants with `cargo install
# --locked` when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# area -> the files it mutates (a glob for --file) | the tests that cover
# them (arguments to `cargo test`) | the test timeout in seconds. The tests
# are the engine's unit tests plus the few integration tests aimed at that
# code; the long random tests (crash_sim, engine_model) are left out: they
# catch little that these miss and would make each mutant take a minute.
# Each area's tests take under ten seconds unmutated; a mutant still
# running after 30 is one that made a test loop or wait forever.
declare -A files=(
    [record]='src/engine/record.rs'
    [replay]='src/engine/replay.rs'
    [compaction]='src/engine/compaction.rs'
    [batch]='src/engine/batch.rs'
    [write]='src/engine/write.rs'
    [index]='src/engine/index/*.rs'
)
declare -A tests=(
    [record]='--lib --test engine_bad_input --test recover_torn_tail'
    [replay]='--lib --test recover_torn_tail --test recover_torn_wal_header'
    [compaction]='--lib --test engine_compaction_failure --test engine_compaction_writes'
    [batch]='--lib --test engine_tombstones'
    [write]='--lib --test engine_fault_poison'
    [index]='--lib --test recover_index_damage'
)
declare -A timeout=(
    [record]=30 [replay]=30 [compaction]=30 [batch]=30 [write]=30 [index]=30
)
order=(record replay compaction batch write index)

iterate=()
areas=()
while (($#)); do
    case $1 in
    --list)
        for a in "${order[@]}"; do
            printf '%-11s %-28s %s\n' "$a" "${files[$a]}" "${tests[$a]}"
        done
        exit 0
        ;;
    --iterate) iterate=(--iterate) ;;
    all) areas+=("${order[@]}") ;;
    --)
        shift
        break
        ;;
    *)
        [[ -v files[$1] ]] || {
            echo "mutants.sh: unknown area '$1' (try --list)" >&2
            exit 2
        }
        areas+=("$1")
        ;;
    esac
    shift
done
((${#areas[@]})) || {
    echo "usage: bash benches/mutants.sh [--iterate] AREA... [-- CARGO_MUTANTS_ARGS]  (--list for areas)" >&2
    exit 2
}

command -v cargo-mutants >/dev/null 2>&1 || cargo install cargo-mutants --locked
ulimit -v $((${MUTANTS_MEM_GB:-8} * 1024 * 1024))

for a in "${areas[@]}"; do
    out=target/mutants/$a
    mkdir -p "$out"
    started=$SECONDS
    # The test targets go to every cargo call, the build too (arguments
    # after cargo-mutants' `--` reach only the test run, and its build would
    # then compile every test binary for each mutant).
    targets=()
    for word in ${tests[$a]}; do targets+=(--cargo-arg "$word"); done
    nice -n "${MUTANTS_NICE:-15}" cargo mutants --jobs "${MUTANTS_JOBS:-1}" \
        --file "${files[$a]}" --timeout "${MUTANTS_TIMEOUT:-${timeout[$a]}}" --output "$out" \
        "${targets[@]}" "${iterate[@]}" "$@" ||
        true # cargo-mutants exits 2 when a mutant is missed: the files say which
    echo "== $a: $((SECONDS - started)) s; $(
        for k in caught missed timeout unviable; do
            printf '%s %s  ' "$k" "$(wc -l <"$out/mutants.out/$k.txt")"
        done
    )"
done
