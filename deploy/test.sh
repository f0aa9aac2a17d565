#!/usr/bin/env bash
# Builds carerelay and runs the whole test suite through ctest, on a fresh
# Debian 12 (as root): installs the build packages (deploy/setup.sh), builds
# in build/ (deploy/build.sh), then runs ctest with two jobs.
#
#   deploy/test.sh [ctest args...]
#
# Extra arguments go to ctest, e.g. `deploy/test.sh -LE large` (skip the slow
# tests), `deploy/test.sh -L unit`, `deploy/test.sh -R Relay`. The exit code
# is ctest's.
#
# Environment: CARERELAY_BUILD_DIR (default build), CARERELAY_CMAKE_ARGS
# (extra configure arguments, space-separated), CARERELAY_JOBS,
# CARERELAY_TEST_JOBS (ctest -j, default 2).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build_dir="${CARERELAY_BUILD_DIR:-build}"

bash deploy/setup.sh
# shellcheck disable=SC2086  # word splitting of the extra cmake args is wanted
bash deploy/build.sh "$build_dir" ${CARERELAY_CMAKE_ARGS:-}

status=0
ctest --test-dir "$build_dir" --output-on-failure -j "${CARERELAY_TEST_JOBS:-2}" "$@" || status=$?
exit "$status"
