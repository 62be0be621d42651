#!/usr/bin/env bash
# Sets up and runs attachgate's whole test suite on Debian 12: installs what is
# missing, builds twice (optimised, and with AddressSanitizer + UBSan), runs
# every test in both, runs each fuzz harness briefly, then checks the
# README's demo command with its selftest.
# Exit status is non-zero if anything fails.
# Usage: contrib/test-all.sh      (from anywhere; as root or with sudo rights)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n==> %s\n' "$*"; }

step "installing build and test packages (only what is missing)"
bash contrib/install-deps.sh --with-tests

step "installing the browser-test tool (npm ci in tests/browser; uses Debian's chromium)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

step "installing the S3 test server (npm ci in tests/s3: s3rver, behind tests/e2e/sigv4_front.py)"
npm ci --prefix tests/s3 --no-audit --no-fund --loglevel=error

for kind in release asan; do
  dir="build-test-$kind"
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$kind" = asan ] && flags+=(-DATTACHGATE_SANITIZE=ON)
  step "configuring and building $kind in $dir"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs"
  step "running tests ($kind)"
  # Sanitizers abort on the first finding, so a finding fails its test.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 600
done
# Each libFuzzer harness for 20 s on its seeds, under ASan + UBSan (clang);
# long campaigns are fuzz/run without --smoke (see fuzz/README.md).
step "building the fuzz harnesses (clang) and running each for 20 s"
python3 fuzz/run --smoke --build-dir build-test-fuzz --jobs "$jobs"
# README command (1), unattended: demo up, a mail through it, checked, down.
step "checking the newcomer's demo (contrib/demo.sh selftest)"
bash contrib/demo.sh selftest
step "all tests passed (release and asan+ubsan builds, fuzz smoke, and the demo)"
