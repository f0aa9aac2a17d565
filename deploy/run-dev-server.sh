#!/usr/bin/env bash
# Development server in one command, on a fresh Debian 12 (as root):
# installs the build packages (deploy/setup.sh), builds carerelayd and the
# carerelay CLI (deploy/build.sh), makes development TLS certificates
# (deploy/make-dev-tls.sh -> deploy/dev-tls/), prints how to connect, then
# runs carerelayd in the foreground on 127.0.0.1:7443 with its RocksDB store
# in data/ under the checkout. Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
#
#   deploy/run-dev-server.sh [carerelayd options...]
#
# Extra options go to carerelayd and replace the defaults above when they name
# the same option, e.g. `deploy/run-dev-server.sh --listen 127.0.0.1:8443
# --log-level debug`. See `build/server/carerelayd --help`.
#
# Environment: CARERELAY_BUILD_DIR (default build), CARERELAY_JOBS.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build_dir="${CARERELAY_BUILD_DIR:-build}"

bash deploy/setup.sh
CARERELAY_BUILD_TARGETS="carerelayd carerelay" bash deploy/build.sh "$build_dir"
bash deploy/make-dev-tls.sh deploy/dev-tls

# Defaults, unless the caller gave the same option.
has_option() {
  local name="$1" a
  for a in "${@:2}"; do
    [[ "$a" == "$name" || "$a" == "$name="* ]] && return 0
  done
  return 1
}
# The value the caller gave for option $1 (--opt V or --opt=V), else $2.
option_value() {
  local name="$1" value="$2" i j
  shift 2
  for ((i = 1; i <= $#; i++)); do
    case "${!i}" in
      "$name="*) value="${!i#"$name="}" ;;
      "$name") j=$((i + 1)); value="${!j:-$value}" ;;
    esac
  done
  echo "$value"
}
listen="$(option_value --listen 127.0.0.1:7443 "$@")"
data_dir="$(option_value --data-dir data "$@")"
defaults=()
has_option --listen "$@" || defaults+=(--listen "$listen")
has_option --data-dir "$@" || defaults+=(--data-dir "$repo/data")
# Development only: lets grpcurl list the services (off in production).
has_option --reflection "$@" || defaults+=(--reflection true)
# The README's walkthrough starts with two professionals messaging each other
# before any care team exists: the open directory policy, not the default
# care-relationship one (README, "Care teams").
has_option --contact-policy "$@" || defaults+=(--contact-policy directory)
if ! has_option --dev-plaintext "$@"; then
  has_option --tls-cert "$@" || defaults+=(--tls-cert "$repo/deploy/dev-tls/server.crt")
  has_option --tls-key "$@" || defaults+=(--tls-key "$repo/deploy/dev-tls/server.key")
fi

port="${listen##*:}"
transport="TLS with a development CA"
has_option --dev-plaintext "$@" && transport="PLAINTEXT (--dev-plaintext, development only)"
cat <<EOF

carerelayd (development) is starting on $listen, $transport.
Data directory: $data_dir (admin socket: $data_dir/admin.sock)

Connect to localhost:$port (the certificate names localhost, 127.0.0.1 and ::1)
and trust this CA file:
  $repo/deploy/dev-tls/ca.crt

In another terminal, from $repo:
  # issue a single-use enrollment code for a new account
  $build_dir/server/carerelayd admin enroll --data-dir $data_dir --name "Dr. Anne Peeters" --kind professional
  # the client CLI: register a device with that code, then send and receive
  $build_dir/client/carerelay --help
  $build_dir/client/carerelay register --server localhost:$port --ca-file deploy/dev-tls/ca.crt --code CODE --unencrypted
  # (for real use, give a passphrase instead: CARERELAY_PASSPHRASE=... and no --unencrypted)
  # check TLS
  openssl s_client -connect 127.0.0.1:$port -CAfile deploy/dev-tls/ca.crt </dev/null

Stop with Ctrl-C (or SIGTERM).

EOF
exec "$build_dir/server/carerelayd" "${defaults[@]}" "$@"
