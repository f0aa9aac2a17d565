#!/usr/bin/env bash
# ctest driver of the discharge scenario (tests/scenario.cmake): starts a real
# carerelayd on a free loopback port with TLS and a fresh data directory, runs
# deploy/discharge-scenario.sh against it with one CLI profile per person,
# and fails when the scenario fails. The scenario's own checks are the
# assertions: what each person received and what they could not read.
#
#   tests/run_discharge_scenario.sh CARERELAYD CARERELAY TLS_DIR [LANG]
#
# TLS_DIR holds ca.crt, server.crt and server.key (the test_tls fixture).
# LANG (en, fr, nl or de; default en) is the scenario's --lang: its narration,
# what people write and every carerelay command speak it.
# The server is stopped and the temporary directory removed however it ends.
set -euo pipefail
[[ $# -eq 3 || $# -eq 4 ]] || { echo "usage: $0 CARERELAYD CARERELAY TLS_DIR [en|fr|nl|de]" >&2; exit 2; }
carerelayd="$1" cli="$2" tls="$3" lang="${4:-en}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for f in "$tls/ca.crt" "$tls/server.crt" "$tls/server.key"; do
  [[ -r "$f" ]] || { echo "missing TLS material $f (the make_test_tls fixture makes it)" >&2; exit 1; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/discharge-scenario-test.XXXXXX")"
server_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # SIGTERM shuts down gracefully (10 s of grace by default); SIGKILL after that.
    for _ in $(seq 1 150); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
show_log() {
  echo "---- carerelayd log (last 60 lines) ----" >&2
  tail -n 60 "$tmp/carerelayd.log" >&2 || true
  echo "----------------------------------------" >&2
}

# Port 0: the kernel picks a free port; the server says which on stderr.
mkdir -m 700 "$tmp/data"
"$carerelayd" --listen 127.0.0.1:0 --data-dir "$tmp/data" \
  --tls-cert "$tls/server.crt" --tls-key "$tls/server.key" >"$tmp/carerelayd.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 600); do  # 60 s: a sanitizer build starts slowly
  port="$(sed -n 's/.*carerelayd ready on [^ ]* (port \([0-9]*\), TLS).*/\1/p' "$tmp/carerelayd.log" | head -1)"
  [[ -n "$port" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "carerelayd exited before it was ready" >&2
    show_log
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "carerelayd was not ready within 60 s" >&2
  show_log
  exit 1
fi

status=0
bash "$repo/deploy/discharge-scenario.sh" --server "127.0.0.1:$port" --data-dir "$tmp/data" \
  --ca-file "$tls/ca.crt" --carerelayd "$carerelayd" --carerelay "$cli" --home "$tmp/home" \
  --lang "$lang" ||
  status=$?
if [[ $status -ne 0 ]]; then
  echo "the discharge scenario ($lang) failed (exit $status)" >&2
  show_log
fi
exit "$status"
