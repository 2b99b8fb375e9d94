#!/usr/bin/env bash
# Installs every Debian package ttalloc needs to build, test and run its demo.
# The one list of dependencies: README, `make deps` and .ci/run all call this.
# Idempotent: packages already present are skipped quickly by apt.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential cmake pkg-config git
  # sanitizers and fuzzing (clang's libFuzzer runtime)
  clang libclang-rt-14-dev
  # libraries: JSON (ttalloc-run reports, HTTP API); allocation stack traces:
  # libunwind captures them in the client, libdw (elfutils) symbolizes them;
  # ncurses (ncursesw) draws `tt_smi top`
  libjansson-dev libunwind-dev libdw-dev libncurses-dev
  # systemd socket activation and readiness (sd_listen_fds, sd_notify)
  libsystemd-dev
  # unit tests
  libcmocka-dev
  # integration tests and the Python client
  python3 python3-pytest python-is-python3
  # tools the tests and demo use; tmux runs `tt_smi top` in its tests
  procps psmisc util-linux tmux
  # HTTP endpoint (libmicrohttpd) and its tests: curl, the dashboard in
  # Chromium driven by playwright-core (npm), a real Prometheus, wrk for the bench
  libmicrohttpd-dev curl chromium prometheus nodejs npm wrk
  # systemd socket activation and sd_notify in the server; the install tests:
  # systemd-analyze verify (it runs man for Documentation=), groff for the man
  # pages, and `pip install ./python` into a venv, offline
  libsystemd-dev systemd man-db groff-base
  python3-pip python3-setuptools python3-wheel python3-venv
)

# A package whose command is already there from elsewhere counts as present:
# NodeSource's nodejs ships npm and conflicts with Debian's npm package.
provided_by_command() {
  case "$1" in
    npm) command -v npm >/dev/null 2>&1 ;;
    nodejs) command -v node >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  provided_by_command "$pkg" && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
