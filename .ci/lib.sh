# Helpers for the scripts that drive example servers the way the example contract says
# (DESIGN.md): start on port 0, read `listening on ADDR` from the first stdout line,
# talk to it, SIGTERM it, check it exits 0. Source it: `. .ci/lib.sh`.

work=$(mktemp -d)
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

fail() { echo "FAIL $*"; for f in "$work"/*.err; do [[ -s "$f" ]] && { echo "--- $f"; cat "$f"; }; done; exit 1; }

# start NAME COMMAND ARGS...: runs a server, waits (bounded) for its first line, and sets
# PID_NAME, ADDR_NAME and PORT_NAME.
start() {
    local name=$1; shift
    mkfifo "$work/$name.out"
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    local pid=$!
    servers+=("$pid")
    exec {fd}<"$work/$name.out"
    local first
    read -r -t 30 first <&"$fd" || fail "$name: no first line within 30 s"
    [[ "$first" =~ ^listening\ on\ (.+):([0-9]+)$ ]] || fail "$name: first line was: $first"
    printf -v "PID_$name" '%s' "$pid"
    printf -v "ADDR_$name" '%s' "${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
    printf -v "PORT_$name" '%s' "${BASH_REMATCH[2]}"
    # Keep reading its stdout so it never blocks on a full pipe.
    cat <&"$fd" >"$work/$name.rest" &
}

# stop NAME: SIGTERM, and check the exit status is 0.
stop() {
    local name=$1 pid_var="PID_$1" status=0
    kill -TERM "${!pid_var}"
    wait "${!pid_var}" || status=$?
    [[ $status -eq 0 ]] || fail "$name exited $status after SIGTERM"
}
