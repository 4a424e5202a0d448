# shellcheck shell=bash
# Shared by the benchmark scripts, which run from the repository root:
# `source benches/lib.sh`.

# need_tools TOOL=PACKAGE...: installs, with apt (as root, or through sudo),
# the Debian package of every TOOL that is not on PATH (TOOL may be a path).
need_tools() {
    local missing=() pair tool
    for pair in "$@"; do
        tool=${pair%%=*}
        command -v "$tool" >/dev/null 2>&1 || missing+=("${pair#*=}")
    done
    ((${#missing[@]})) || return 0
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq </dev/null
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# require_tools NAME TOOL...: exits 2, naming the script NAME, when a TOOL
# is not on PATH (tools the script asks for rather than installs).
require_tools() {
    local name=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$name: $tool is not installed" >&2; exit 2; }
    done
}

# release_tinykv: sets TINYKV to a release build of this checkout, unless
# it is set already.
release_tinykv() {
    if [[ -z ${TINYKV:-} ]]; then
        cargo build --release --quiet
        TINYKV=target/release/tinykv
    fi
}

# scratch: a temporary directory, $work, and $pids, the processes to stop;
# at exit the processes are killed and the directory removed.
scratch() {
    work=$(mktemp -d)
    pids=()
    trap scratch_cleanup EXIT
}

scratch_cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
