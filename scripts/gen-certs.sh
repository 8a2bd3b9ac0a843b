#!/usr/bin/env bash
# A local certificate authority and one certificate per service, with
# openssl only (docs/tls.md):
#   scripts/gen-certs.sh DIR [NAME...]
# writes DIR/ca.pem (and DIR/ca.key, which signs), and DIR/NAME.pem +
# DIR/NAME.key for each NAME (default: records templates approval assembler
# gateway reportctl). Each certificate serves and calls (extendedKeyUsage
# serverAuth, clientAuth: one per service for TLS and mTLS) with the SANs
# DNS:localhost, DNS:NAME, IP:127.0.0.1, plus those of GOVREPORT_CERT_SANS
# (comma separated, e.g. "DNS:records.city.gov.cn,IP:10.0.0.5").
# Idempotent: what exists, is signed by DIR/ca.pem and has the SANs asked
# for is kept; the rest is made. Keys are mode 0600. ECDSA P-256: cheap
# handshakes.
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -ge 1 ] && exit 0 || exit 2
fi
dir="$1"; shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(records templates approval assembler gateway reportctl)
command -v openssl >/dev/null || { echo "gen-certs.sh: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir"
umask 077

# ossl ARGS...: openssl, quiet when it works; when it fails, its stderr and
# the command, then exit 1 (set -e alone would exit without a word).
ossl() {
  local err
  if ! err=$(openssl "$@" 2>&1 >/dev/null); then
    echo "gen-certs.sh: openssl $1 failed: $err" >&2
    exit 1
  fi
}
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

if [ ! -s "$dir/ca.pem" ] || [ ! -s "$dir/ca.key" ] ||
   ! openssl x509 -in "$dir/ca.pem" -noout -checkend 86400 >/dev/null 2>&1; then
  newkey "$dir/ca.key"
  ossl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/O=govreport/CN=govreport local CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem"
  chmod 0644 "$dir/ca.pem"
  echo "gen-certs.sh: made $dir/ca.pem"
fi

for name in "${names[@]}"; do
  case "$name" in
    ''|*[!A-Za-z0-9._-]*) echo "gen-certs.sh: bad name '$name'" >&2; exit 2 ;;
  esac
  sans="DNS:localhost,DNS:$name,IP:127.0.0.1${GOVREPORT_CERT_SANS:+,$GOVREPORT_CERT_SANS}"
  pem="$dir/$name.pem" key="$dir/$name.key"
  if [ -s "$pem" ] && [ -s "$key" ] && [ "$(cat "$dir/$name.sans" 2>/dev/null)" = "$sans" ] &&
     openssl verify -CAfile "$dir/ca.pem" "$pem" >/dev/null 2>&1 &&
     openssl x509 -in "$pem" -noout -checkend 86400 >/dev/null 2>&1; then
    continue
  fi
  newkey "$key"
  cat >"$dir/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$sans
EOF
  ossl req -new -key "$key" -subj "/O=govreport/CN=$name" -out "$dir/$name.csr"
  ossl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -CAserial "$dir/ca.srl" -days 825 -sha256 -extfile "$dir/$name.ext" -out "$pem"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  echo "$sans" >"$dir/$name.sans"
  chmod 0600 "$key"
  chmod 0644 "$pem"
  echo "gen-certs.sh: made $pem ($sans)"
done
