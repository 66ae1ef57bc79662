# Shared by `bench` and `compare` (sourced, not run): the release binaries, CPU pinning,
# private Redis servers and service processes on free loopback ports, stopped by pid.
#
# The sourcing script sets `loadgen_cpus` (a taskset list, or empty) before `pin_setup`, and
# calls `stop_all` between runs; the EXIT trap stops everything and removes `$work`.
# shellcheck shell=bash disable=SC2034 # bin, pin_loadgen: set here for the sourcing script

# Builds the release backend and loadgen; sets `bin` (their directory) and `work` (a scratch
# directory for this invocation).
build_release() {
    cargo build --release --locked -p backend -p loadgen >&2
    local target_dir
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    bin="$target_dir/release"
    work=$(mktemp -d)
}

# Pinning: loadgen on `loadgen_cpus`, services on the rest (both arrays empty without -t).
pin_setup() {
    pin_loadgen=() pin_service=()
    [ -n "$loadgen_cpus" ] || return 0
    local others
    others=$(python3 -c 'import os, sys
mine = set()
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    mine.update(range(int(a), int(b or a) + 1))
rest = sorted(os.sched_getaffinity(0) - mine)
print(",".join(map(str, rest)))' "$loadgen_cpus")
    [ -n "$others" ] || { echo "-t $loadgen_cpus leaves no CPU for the service" >&2; exit 2; }
    pin_loadgen=(taskset -c "$loadgen_cpus")
    pin_service=(taskset -c "$others")
}

pids=()
stop_all() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    pids=()
}
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
    stop_all
    [ -z "${work:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/free_port.py"
}

# Starts a private redis-server without persistence; sets `redis_port` and `redis_pid`.
start_redis() {
    redis_port=$(free_port)
    "${pin_service[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
        --appendonly no --loglevel warning --dir "$work" >/dev/null &
    redis_pid=$!
    pids+=("$redis_pid")
    for _ in $(seq 1 100); do
        redis-cli -p "$redis_port" PING 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
}

# Waits until http://127.0.0.1:PORT/readyz answers (at most 20 s).
wait_ready() {
    for _ in $(seq 1 200); do
        curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return 0
        sleep 0.1
    done
}
