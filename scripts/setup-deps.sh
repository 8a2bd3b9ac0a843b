#!/usr/bin/env bash
# Installs the Debian 12 packages govreport needs to build, test and run.
# Idempotent and quiet when everything is already there.
#   scripts/setup-deps.sh            build + test dependencies
#   scripts/setup-deps.sh --bench    also the peers the benchmarks compare with
#   scripts/setup-deps.sh --lint     also clang-format and clang-tidy (14 on Debian 12)
set -euo pipefail

docs=""
packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libhiredis-dev libssl-dev libzip-dev zlib1g-dev
  libcpp-httplib-dev prometheus-cpp-dev
  # The fixed layout (PDF): Pango and HarfBuzz shape and break lines, cairo
  # writes the PDF; the faces it maps 仿宋/小标宋/黑体/楷体 to (docs/pdf.md).
  libpango1.0-dev libcairo2-dev libharfbuzz-dev fonts-noto-cjk fonts-arphic-ukai
  # The PDF's PDF/A-2b output intent embeds its sRGB profile (docs/pdf.md).
  icc-profiles-free
  # The OFD: libxml2 reads one back; its tests unzip it and run xmllint.
  libxml2-dev libxml2-utils unzip
  # google/api/{annotations,http}.proto for the gateway's routes.
  golang-github-grpc-ecosystem-grpc-gateway-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools python3 python3-grpcio python3-protobuf
  # tests/deploy/check_deploy.py: the manifests (yaml), systemd-analyze.
  python3-yaml systemd
)
for arg in "$@"; do
  case "$arg" in
    # valgrind: render.pdf.instructions_per_doc (scripts/pdf_instructions.sh).
    --bench) packages+=(libmstch-dev python3-jinja2 valgrind) ;;
    # chromium: html_print_test prints the HTML as a reader would; the OFD
    # tests render the OFD with ofd.js in it (below).
    # qpdf: pdf_poppler_test checks the PDF/A-2b update with it.
    --docs) packages+=(libreoffice-writer-nogui poppler-utils qpdf fonts-noto-cjk cmark chromium)
      command -v npm >/dev/null || packages+=(npm)
      docs=1 ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --lint) packages+=(clang-format clang-tidy) ;;
    *) echo "unknown option $arg (known: --bench --docs --fuzz --lint)" >&2; exit 2 ;;
  esac
done

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
# A killed install (the background one of scripts/test.sh) leaves dpkg
# interrupted (/var/lib/dpkg/updates not empty, half-installed packages),
# and apt refuses everything until `dpkg --configure -a`: do that first.
# An install still running looks the same: wait for its lock (10 min).
dpkg_interrupted() { [ -n "$(ls -A /var/lib/dpkg/updates 2>/dev/null)" ] || [ -n "$(dpkg --audit 2>/dev/null)" ]; }
dpkg_busy() { $sudo fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1; }
if dpkg_interrupted; then
  for _ in $(seq 1 300); do dpkg_busy || break; sleep 2; done
  if dpkg_interrupted; then
    echo "dpkg was interrupted: dpkg --configure -a"
    DEBIAN_FRONTEND=noninteractive $sudo dpkg --configure -a
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# ofd.js 0.2.6 (npm, Apache-2.0): the independent OFD reader the OFD tests
# run in chromium, into build/ofdjs where tests/layout looks for it. (1.x
# needs a vendor's licence key for its core; 0.2.6 is plain JavaScript.)
install_ofdjs() {
  [ -n "$docs" ] || return 0
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/build/ofdjs"
  [ -f "$dir/node_modules/ofd.js/lib/ofd.umd.min.js" ] && return 0
  mkdir -p "$dir"
  # Without it the test that needs it skips; nothing else does.
  npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error \
    ofd.js@0.2.6 >/dev/null || echo "ofd.js was not installed: the OFD reader test will skip" >&2
}
[ ${#missing[@]} -eq 0 ] && { install_ofdjs; exit 0; }

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Waits for a dpkg lock held by another run (scripts/test.sh installs the
# DOCX tests' packages in the background) instead of failing. force-unsafe-io:
# dpkg skips its fsync per unpacked file (LibreOffice and the CJK fonts are
# thousands); a power cut could leave a half-unpacked package, which this
# script installs again.
$sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
  -o Dpkg::Options::=--force-unsafe-io "${missing[@]}" >/dev/null
# The packaged redis-server starts a system instance where it can; the
# project starts its own on free ports and does not need that one.
install_ofdjs
