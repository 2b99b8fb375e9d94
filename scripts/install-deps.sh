#!/usr/bin/env bash
# Installs the Debian packages ttalloc needs, by group:
#   build   compile everything `make` builds (the unit tests' cmocka included)
#   demo    run `make demo` on top of build (the seed's Python snippets, curl)
#   test    run `make test` on top of build and demo (sanitizers, pytest,
#           Chromium, Prometheus, tmux, systemd-analyze, ...)
# The one list of dependencies: README, `make deps`, `make demo`, `make test`
# and .ci/run all call this. Idempotent: packages already present are
# skipped quickly by apt.
#
# Usage: scripts/install-deps.sh [--list | --dry-run] [GROUP...]
#   no GROUP       every group (what `make test` and .ci/run need)
#   --list         print the groups' packages, one a line, and install nothing
#   --dry-run      print which of them are missing here, and install nothing
set -euo pipefail

GROUPS_KNOWN=(build demo test)

BUILD_PACKAGES=(
  # toolchain and build
  build-essential cmake pkg-config git
  # libraries: JSON (ttalloc-run reports, HTTP API, tt_smi --json);
  # allocation stack traces: libunwind captures them in the client, libdw
  # (elfutils) symbolizes them; ncurses (ncursesw) draws `tt_smi top`
  libjansson-dev libunwind-dev libdw-dev libncurses-dev
  # systemd socket activation and readiness (sd_listen_fds, sd_notify)
  libsystemd-dev
  # the HTTP endpoint; for fleets (issue 14): --web-config's YAML (libyaml),
  # TLS checks and hashes (GnuTLS, libmicrohttpd's TLS library), bcrypt
  # (libxcrypt's crypt), tt_smi --prometheus (libcurl, GnuTLS flavour)
  libmicrohttpd-dev libyaml-dev libgnutls28-dev libcrypt-dev libcurl4-gnutls-dev
  # the unit tests, built with everything (TTALLOC_TESTS=ON by default)
  libcmocka-dev
)

DEMO_PACKAGES=(
  # the seed's Python snippets and query_stats.py (the seed runs them as
  # `python ...`: python-is-python3); curl shows the REST endpoint
  python3 python-is-python3 curl
)

TEST_PACKAGES=(
  # sanitizers and fuzzing (clang's libFuzzer runtime); make format-check
  clang libclang-rt-14-dev clang-format
  # integration tests and the Python client
  python3-pytest
  # tools the tests use; tmux runs `tt_smi top` in its tests, setpriv
  # (util-linux) runs clients as another user
  procps psmisc util-linux tmux
  # the dashboard in Chromium driven by playwright-core (npm), a real
  # Prometheus, wrk for the bench
  chromium prometheus nodejs npm wrk
  # the install tests: systemd-analyze verify (it runs man for
  # Documentation=), groff for the man pages, and `pip install ./python`
  # into a venv, offline
  systemd man-db groff-base
  python3-pip python3-setuptools python3-wheel python3-venv
  # the fleet tests (issue 14): python3-yaml (Kubernetes manifests), openssl
  # (test certificates); promtool comes with prometheus above
  python3-yaml openssl
  # the data model's JSON Schemas (schemas/, docs/DATA_MODEL.md): every
  # endpoint's and tool's JSON is validated against them
  python3-jsonschema
)

# Prints the packages of group $1, one a line.
packages_of() {
  case "$1" in
    build) printf '%s\n' "${BUILD_PACKAGES[@]}" ;;
    demo) printf '%s\n' "${DEMO_PACKAGES[@]}" ;;
    test) printf '%s\n' "${TEST_PACKAGES[@]}" ;;
    *)
      echo "install-deps: unknown group '$1' (groups: ${GROUPS_KNOWN[*]})" >&2
      exit 2
      ;;
  esac
}

# A package whose command is already there from elsewhere counts as present:
# NodeSource's nodejs ships npm and conflicts with Debian's npm package.
provided_by_command() {
  case "$1" in
    npm) command -v npm >/dev/null 2>&1 ;;
    nodejs) command -v node >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

installed() {
  provided_by_command "$1" || dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

mode=install
case "${1:-}" in
  --list) mode=list; shift ;;
  --dry-run) mode=dry-run; shift ;;
  -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "install-deps: unknown option '$1' (--list, --dry-run, --help)" >&2; exit 2 ;;
esac
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=("${GROUPS_KNOWN[@]}")

PACKAGES=()
for group in "${groups[@]}"; do
  list=$(packages_of "$group") || exit $?
  mapfile -t -O "${#PACKAGES[@]}" PACKAGES <<<"$list"
done

if [ "$mode" = list ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages of ${groups[*]} present"
  exit 0
fi
if [ "$mode" = dry-run ]; then
  echo "install-deps: would install ${missing[*]}"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
