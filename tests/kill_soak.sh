#!/usr/bin/env bash
# The kill soak (issue 16, item 4) for as many cycles as asked: carerelayd
# under a mixed load, killed with SIGKILL at random points and restarted, the
# delivery contract, the urgent timers and `carerelayd admin check` verified
# after every cycle (tests/kill_soak_test.cc says what exactly). CI runs 5
# cycles through ctest (KillSoakTest); this is the long run:
#
#   tests/kill_soak.sh [CYCLES] [--build-dir DIR] [--window MINUTES] [--max-load-ms MS]
#
# CYCLES defaults to 100. --window sets the urgent messages' window (default
# 3: reminders after 1 and 2 minutes, the escalation at 3); the run goes on
# with "drain" cycles until every urgent timer has fallen due, so it lasts at
# least that long after its last urgent send. It goes on after a cycle's
# findings (CARERELAY_SOAK_KEEP_GOING=1) and ends with the totals; the exit
# code is the test's. Build first:
#   cmake --build build --target kill_soak_test carerelayd
# The output also goes to DIR/kill-soak-CYCLES.log.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cycles=100
build_dir="$repo/build"
window=3
max_load_ms=2500
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --max-load-ms) max_load_ms="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    [0-9]*) cycles="$1"; shift ;;
    *) echo "kill_soak.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
binary="$build_dir/tests/kill_soak_test"
if [[ ! -x "$binary" ]]; then
  echo "kill_soak.sh: no $binary; build it: cmake --build $build_dir --target kill_soak_test carerelayd" >&2
  exit 2
fi
# The TLS material the test binary was built to read (ctest's make_test_tls
# fixture makes it; the same script, if it is missing).
if [[ ! -f "$build_dir/test-tls/server.crt" ]]; then
  bash "$repo/deploy/make-dev-tls.sh" "$build_dir/test-tls"
fi
# A copy of the server (and of the test) for the run: a rebuild in the build
# directory meanwhile would otherwise remove them from under a long soak.
work="$(mktemp -d "${TMPDIR:-/tmp}/kill-soak.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$build_dir/server/carerelayd" "$binary" "$work/"
export CARERELAY_TEST_CARERELAYD="$work/carerelayd"
log="$build_dir/kill-soak-$cycles.log"
echo "kill_soak.sh: $cycles cycles, urgent window $window min; log in $log"
CARERELAY_SOAK_CYCLES="$cycles" CARERELAY_SOAK_URGENT_WINDOW_MINUTES="$window" \
  CARERELAY_SOAK_MAX_LOAD_MS="$max_load_ms" CARERELAY_SOAK_KEEP_GOING=1 \
  "$work/kill_soak_test" 2>&1 | tee "$log"
status="${PIPESTATUS[0]}"
exit "$status"
