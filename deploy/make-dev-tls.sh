#!/usr/bin/env bash
# Makes development TLS material with openssl: a local CA and a server
# certificate for localhost (DNS:localhost, IP:127.0.0.1, IP:::1), signed by
# it. Never use these in production: the CA key sits next to the certificate.
#
#   deploy/make-dev-tls.sh [DIR]     (default: deploy/dev-tls)
#
# Writes DIR/ca.crt (give it to clients: carerelay --ca-file), DIR/server.crt
# and DIR/server.key (give them to carerelayd). Existing files are kept.
set -euo pipefail
dir="${1:-$(dirname "$0")/dev-tls}"
mkdir -p "$dir"
cd "$dir"
if [[ -s ca.crt && -s server.crt && -s server.key ]]; then
  echo "development TLS material already in $(pwd)"
  exit 0
fi
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=carerelay development CA" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
cat > server.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
  -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 644 ca.crt server.crt
echo "development TLS material written to $(pwd)"
