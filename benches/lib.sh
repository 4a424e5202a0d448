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
