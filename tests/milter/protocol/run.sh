#!/bin/bash
# tests/milter/protocol/run.sh - runs one miltertest script against a fresh
# `attachgate milter` daemon.
#
# Usage: run.sh ATTACHGATE SOURCE_DIR SCRIPT.lua
#
# Each run gets its own work directory (state, policy, log) and a free
# loopback port, so scripts can run in parallel under ctest -j. The daemon
# is stopped with SIGTERM and must exit 0. The exit status is non-zero when
# the script fails or the daemon misbehaves; then the daemon log is printed
# and the work directory is kept for a look.
set -u

if [ $# -ne 3 ]; then
  echo "usage: $0 ATTACHGATE SOURCE_DIR SCRIPT.lua" >&2
  exit 2
fi
attachgate=$(realpath "$1")
srcdir=$(realpath "$2")
script=$(realpath "$3")
name=$(basename "$script" .lua)

command -v miltertest >/dev/null || { echo "$name: miltertest is not installed; skipped" >&2; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/attachgate-protocol-$name.XXXXXX")
log="$work/daemon.log"
daemon_pid=

# Small thresholds keep the messages small; [secure] asks for stricter terms.
cat >"$work/policy.toml" <<'EOF'
on_error = "tempfail"
internal_domains = ["example.org"]

[defaults]
expires = "7d"
max_downloads = 2
access_code = false
track_opens = true

[[rule]]
name = "secure-tag"
subject_tag = "[secure]"
action = "offload"
access_code = true
expires = "3d"

[[rule]]
name = "internal-only"
recipients = "all_internal"
action = "keep"

[[rule]]
name = "large-to-external"
recipients = "any_external"
min_size = "32KB"
action = "offload"
EOF

finish() {
  local status=$1
  if [ "$status" -ne 0 ]; then
    echo "---- $name failed (status $status); daemon log $log ----" >&2
    cat "$log" >&2 2>/dev/null
    echo "---- work directory kept: $work ----" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}

stop_daemon() {
  [ -n "$daemon_pid" ] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null
  local i
  for i in $(seq 1 100); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "$name: daemon did not stop within 10s of SIGTERM" >&2
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=
    return 1
  fi
  wait "$daemon_pid"
  local rc=$?
  daemon_pid=
  if [ "$rc" -ne 0 ]; then
    echo "$name: daemon exited with status $rc after SIGTERM" >&2
    return 1
  fi
  return 0
}
trap 'stop_daemon; finish 1' INT TERM

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port nobody listens on now; another test may take it before the daemon
# binds, so a start that fails on the socket is retried with a new port.
pick_port() {
  local p
  while :; do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_in_use "$p" || { echo "$p"; return; }
  done
}

start_daemon() {
  local attempt i
  for attempt in 1 2 3 4 5; do
    port=$(pick_port)
    : >"$log"
    (cd "$srcdir" && exec "$attachgate" --config conf/attachgate.toml --policy "$work/policy.toml" \
        --state-dir "$work/state" --milter-socket "inet:$port@127.0.0.1" \
        --public-url http://127.0.0.1:8025 milter) >>"$log" 2>&1 &
    daemon_pid=$!
    # Up when the child says it listens; a daemon that exits lost the port
    # (or is broken, which the next attempts will show as well).
    for i in $(seq 1 300); do
      if grep -q "milter listening on" "$log" && port_in_use "$port"; then return 0; fi
      kill -0 "$daemon_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$daemon_pid" 2>/dev/null; then
      echo "$name: daemon did not listen on port $port within 30s" >&2
      stop_daemon
      return 1
    fi
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=
    echo "$name: daemon exited during start (attempt $attempt, port $port)" >&2
  done
  return 1
}

start_daemon || finish 1

status=0
(cd "$work" && miltertest -s "$script" \
    -D "socket=inet:$port@127.0.0.1" \
    -D "state_dir=$work/state" \
    -D "attachgate=$attachgate" \
    -D "work_dir=$work" \
    -D "lib_dir=$(dirname "$script")") || status=$?

stop_daemon || { [ "$status" -ne 0 ] || status=1; }

# Errors the daemon logged that no script expects.
if grep -E "panic|AddressSanitizer|runtime error|LeakSanitizer" "$log" >/dev/null; then
  echo "$name: the daemon log shows a crash or sanitizer report" >&2
  [ "$status" -ne 0 ] || status=1
fi
finish "$status"
