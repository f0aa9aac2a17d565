#!/usr/bin/env bash
# Configures and builds carerelay with CMake.
#
#   deploy/build.sh [BUILD_DIR] [extra cmake args...]
#
# BUILD_DIR defaults to build/ in the checkout (a relative path is taken from
# the current directory). The build type is RelWithDebInfo unless the extra
# arguments say otherwise, e.g.
#
#   deploy/build.sh build-asan -DCARERELAY_SANITIZE=ON
#   deploy/build.sh build-debug -DCMAKE_BUILD_TYPE=Debug
#
# Environment:
#   CARERELAY_JOBS           parallel compile jobs (default: number of CPUs,
#                            at most one per 1.5 GiB of available memory:
#                            gRPC-heavy files need about that much each)
#   CARERELAY_BUILD_TARGETS  space-separated targets to build instead of all
#                            (targets this tree does not define are skipped)
#
# Needs the packages of deploy/setup.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

build_dir="${1:-$repo/build}"
[[ $# -gt 0 ]] && shift
mkdir -p "$build_dir"
build_dir="$(cd "$build_dir" && pwd)"

if ! command -v cmake >/dev/null 2>&1; then
  echo "build: cmake not found; run deploy/setup.sh first (as root)" >&2
  exit 1
fi

jobs="${CARERELAY_JOBS:-}"
if [[ -z "$jobs" ]]; then
  jobs="$(nproc 2>/dev/null || echo 1)"
  mem_kib="$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || true)"
  if [[ -n "$mem_kib" ]]; then
    by_mem=$((mem_kib / (1536 * 1024)))
    ((by_mem < jobs)) && jobs=$by_mem
  fi
  ((jobs < 1)) && jobs=1
fi

echo "build: configuring $build_dir"
cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"

targets=()
if [[ -n "${CARERELAY_BUILD_TARGETS:-}" ]]; then
  known="$(cmake --build "$build_dir" --target help 2>/dev/null || true)"
  for t in $CARERELAY_BUILD_TARGETS; do
    if grep -Eq "(^|[ .:])$t(:|\$| )" <<<"$known"; then
      targets+=(--target "$t")
    else
      echo "build: no target $t in this tree, skipped"
    fi
  done
fi

echo "build: compiling with $jobs jobs"
cmake --build "$build_dir" --parallel "$jobs" "${targets[@]}"
echo "build: done in $build_dir"
