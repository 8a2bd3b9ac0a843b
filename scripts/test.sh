#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
# Tests start their own redis-server on free ports and their own services.
#
# CI (.ci/run) runs this on two cores within a 30-minute budget, so phases
# overlap where one leaves the CPU idle: LibreOffice is installed while the
# compiler runs, and clang-tidy runs at the lowest CPU priority beside the
# build, the fuzzer (one core) and ctest (whose tests wait on Redis and
# sockets much of the time). Every check still fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
bg_pids=()
# A failing phase ends the run: the background jobs go with it.
stop_background() {
  local p
  for p in "${bg_pids[@]:-}"; do
    if [ -n "$p" ]; then kill -- "-$p" 2>/dev/null || true; fi
  done
}
trap stop_background EXIT

# What the build, clang-format, clang-tidy and the fuzzer need, now. One apt
# run for all of them: each apt-get update costs as much again.
scripts/setup-deps.sh --lint --fuzz "$@"
# LibreOffice and poppler (the DOCX tests open documents with a real reader):
# only ctest needs them, so they are installed while the build runs, where
# apt-get has to ask no password (root, or sudo that needs none).
docs_pid=""
if [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
  setsid scripts/setup-deps.sh --docs >build/setup-docs.log 2>&1 &
  docs_pid=$!
  bg_pids+=("$docs_pid")
else
  scripts/setup-deps.sh --docs
fi

# Every tracked C++ file as .clang-format has it (fix: scripts/format.sh).
git ls-files -z '*.cc' '*.h' | xargs -0 -r clang-format --dry-run -Werror
# Warnings in project code are errors here (GOVREPORT_WERROR is OFF for a
# developer's build). Configured every time: scripts/build.sh configures only
# a build/ that has none, and an old build/ keeps its options.
# -g1 (line tables: file, line and function in every backtrace, no variables)
# instead of -g: 14-22% less compile CPU per file, objects a fifth to a third the
# size to link; the code is the same -O2 code that scripts/bench.sh measures.
# (-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" for a debugger's build.)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${GOVREPORT_BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DGOVREPORT_WERROR=ON ${GOVREPORT_CMAKE_ARGS:-} >/dev/null
# The generated protobuf headers first: clang-tidy needs them, not the rest.
scripts/build.sh gr_proto

# clang-tidy (.clang-tidy: bugprone, performance, modernize, functions of at
# most 80 lines) over every C++ file under services/ and tests/, two jobs at
# nice 19 from here to the end: the build, the fuzzer and the tests take the
# CPU first (so their deadlines see the same machine as before), and
# clang-tidy takes what they leave: the build's last links, the fuzzer's
# second core, the time the tests wait. It is the largest phase (about 1500
# CPU seconds); its verdict is awaited after ctest.
# setsid makes a session, and with the kernel's autogroup scheduling a
# session shares the CPU equally with the others whatever its processes'
# nice: the new session's own nice (set from inside it) makes clang-tidy yield.
GOVREPORT_TIDY_NO_BUILD=1 setsid sh -c \
  'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 scripts/tidy.sh --all' \
  >build/tidy.log 2>&1 &
tidy_pid=$!
bg_pids+=("$tidy_pid")
scripts/build.sh
# The template engine under libFuzzer + AddressSanitizer, for a bounded time.
scripts/fuzz.sh "${GOVREPORT_FUZZ_SECONDS:-60}"
if [ -n "$docs_pid" ] && ! wait "$docs_pid"; then
  cat build/setup-docs.log >&2
  echo "installing the DOCX tests' packages failed" >&2
  exit 1
fi
(cd build && ctest --output-on-failure -j2 --timeout 600)
tidy_rc=0
wait "$tidy_pid" || tidy_rc=$?
cat build/tidy.log
if [ "$tidy_rc" -ne 0 ]; then
  echo "clang-tidy found problems (exit $tidy_rc); scripts/tidy.sh --all FILE checks one" >&2
  exit 1
fi
