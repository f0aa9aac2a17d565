#!/usr/bin/env bash
# Installs every Debian 12 package carerelay needs to build and test: the
# compiler, CMake, and the libraries the top-level CMakeLists.txt finds
# (gRPC, protobuf, RocksDB, Abseil, OpenSSL, libsignal-protocol-c, spdlog,
# CLI11, nlohmann-json, GoogleTest, Google Benchmark). Nothing is downloaded
# at build time; these packages are the only dependencies.
#
#   deploy/setup.sh
#
# CARERELAY_EXTRA_PACKAGES (space-separated) adds packages a build mode needs
# beyond these, e.g. "clang-14 libclang-rt-14-dev" for the ThreadSanitizer
# build of .ci/run.
#
# Run it as root (or as a user with sudo). When every package is already
# installed it does nothing and needs no network, so the other scripts call it
# on every run.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config
  # deploy/make-dev-tls.sh, and trusted roots for TLS
  openssl ca-certificates
  # gRPC 1.51 + protobuf 3.21 (libraries, protoc, grpc_cpp_plugin)
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # libsignal-protocol-c 2.3.3 (curve functions, client-side protocol)
  libsignal-protocol-c-dev
  # RocksDB 7.8 and the compression libraries its CMake package requires
  librocksdb-dev libgflags-dev libsnappy-dev zlib1g-dev libbz2-dev liblz4-dev libzstd-dev
  # Abseil 20220623, OpenSSL 3.0
  libabsl-dev libssl-dev
  # CLI11, spdlog (+ fmt), nlohmann-json
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  # jemalloc: carerelayd's allocator (bench/README.md: glibc malloc was a
  # tenth of the server's CPU under load)
  libjemalloc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
)
# shellcheck disable=SC2206  # word splitting of the package list is wanted
packages+=(${CARERELAY_EXTRA_PACKAGES:-})

missing=()
for p in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
  [[ "$status" == ii* ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} build packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: missing packages (${missing[*]}) and not root; run this script as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
