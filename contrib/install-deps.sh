#!/usr/bin/env bash
# Installs the Debian 12 packages attachgate builds and tests with.
# Idempotent and non-interactive: it asks apt only for what is missing, and it
# preseeds Postfix's debconf question so the install never stops at a prompt.
# Usage: contrib/install-deps.sh [--with-tests] [--with-bench]   (as root, or through sudo)
set -euo pipefail

# libpq-dev and libpqxx-dev: the PostgreSQL catalog back end of issue 15
# (libpq, or its C++ wrapper libpqxx, whichever the back end takes).
build_pkgs=(cmake g++ make pkg-config
  libmilter-dev libgmime-3.0-dev libboost-dev libsqlite3-dev
  libcurl4-openssl-dev libssl-dev libsodium-dev libmstch-dev libtoml11-dev
  libcli11-dev nlohmann-json3-dev
  libpq-dev libpqxx-dev)
# chromium + fonts-liberation drive the browser tests (tests/browser); the fonts
# are only a Recommends, which --no-install-recommends would drop.
# clang + libclang-rt-14-dev (libFuzzer, ASan, UBSan runtimes) build fuzz/.
# opendkim signs after attachgate in tests/e2e/test_dkim.py (opendkim-tools
# makes its key), and python3-dkim checks the signatures.
# postgresql-15 is the catalog engine tests/e2e/engines.py starts (its own
# initdb on loopback; the package's cluster is not used); s3rver, the S3 one,
# comes from npm (tests/s3), so node and npm are needed for it too.
test_pkgs=(libgtest-dev libgmock-dev postfix swaks miltertest sqlite3 python3 curl
  chromium fonts-liberation clang libclang-rt-14-dev opendkim opendkim-tools python3-dkim
  postgresql-15)
# bench/run: Postfix (smtp-source, smtp-sink) and curl as for the tests, GTest
# to configure the build that has the seed_link fixture, nginx and wrk as the
# download baselines, perf for profiling.
bench_pkgs=(postfix curl libgtest-dev libgmock-dev nginx-light wrk linux-perf)

want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --with-tests)
      want+=("${test_pkgs[@]}")
      # Debian's npm conflicts with NodeSource's nodejs (which bundles npm), so
      # Debian's pair is asked for only when no npm is on the PATH at all.
      command -v npm >/dev/null 2>&1 || want+=(nodejs npm) ;;
    --with-bench) want+=("${bench_pkgs[@]}") ;;
    *) echo "usage: $0 [--with-tests] [--with-bench]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
# Postfix must not configure itself as a live MTA here; tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
