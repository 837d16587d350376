#!/usr/bin/env bash
# One entry point for people and CI.
#   ./run.sh serve            install what is missing, then start the server on embedded Postgres/Redis
#   ./run.sh test [ARGS]      install what is missing (test tools too), then lint, type-check and run
#                             the whole test suite (ARGS go to pytest)
#   ./run.sh freeze           rewrite constraints.txt from the virtualenv (after a deliberate upgrade);
#                             refuses a package installed from a file or URL
#   ./run.sh <command> ...    any other `interview` command (ingest, models, migrate, --help)
# Installing is idempotent and quick when nothing changed: a stamp of pyproject.toml's hash is kept
# in the virtualenv.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
# llama-cpp-python compiles llama.cpp for ~5 minutes: build it once per machine, outside the clone so
# that every clone (CI's fresh one too) reuses it. llama.cpp compiles for the CPU it runs on, so the
# cache is keyed by the CPU's feature flags: a home folder shared with another kind of CPU gets its
# own build instead of one that dies with SIGILL. Nothing needs it to exist: it is made when missing.
cpu_key=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m) | sha256sum | cut -c1-12)
WHEELS=${INTERVIEWER_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voice-interviewer/wheels-$cpu_key}
LLAMA=llama-cpp-python==0.3.36

log() { printf '\033[1m[run]\033[0m %s\n' "$*" >&2; }

EXTRAS=dev,st,qwen   # one install for serve and test: switching commands never reinstalls

SYSTEM_PACKAGES="espeak-ng"   # Korean TTS fallback voice
# llama-cpp-python compiles llama.cpp from source: a C/C++ toolchain and CMake.
SYSTEM_PACKAGES="$SYSTEM_PACKAGES build-essential cmake"
# The browser tests: Debian's Chromium (driven by playwright, no browser download), and iproute2 for
# the private network namespace they run in (util-linux's unshare is always there).
SYSTEM_PACKAGES="$SYSTEM_PACKAGES chromium iproute2"
# A Hangul font, so the Korean pages render (and their screenshots show text, not boxes).
SYSTEM_PACKAGES="$SYSTEM_PACKAGES fonts-nanum"
# The reverse proxy in front of several serve processes (the scale-out tests and bench, compose).
SYSTEM_PACKAGES="$SYSTEM_PACKAGES nginx"

ensure_system_packages() {
  local missing=()
  for pkg in $SYSTEM_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})"
    return 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Before pip reads any of them: every dependency must name a registry release, never a file, a path
# or a URL that exists only on the machine that wrote it (it once broke every fresh install).
check_dependency_files() {
  "$PYTHON" tools/depguard.py
}

ensure_install() {
  check_dependency_files
  ensure_system_packages
  local extras=$EXTRAS stamp
  stamp="$VENV/.installed-$( (cat pyproject.toml constraints.txt; echo "$extras") | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel setuptools
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    log "building $LLAMA once (compiles llama.cpp, about 5 minutes on 2 cores) into $WHEELS"
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$VENV/bin/python" -m pip wheel -q --no-deps -w "$WHEELS" "$LLAMA"
  fi
  log "installing the project and its pinned dependencies ($extras)"
  "$VENV/bin/python" -m pip install -q --find-links "$WHEELS" -c constraints.txt -e ".[$extras]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

run_tests() {
  ensure_install
  local bin="$VENV/bin"
  log "ruff"
  "$bin/ruff" check .
  "$bin/ruff" format --check .
  log "mypy (strict)"
  "$bin/mypy" .
  log "pytest"
  local rc=0
  "$bin/python" -m pytest "$@" || rc=$?
  # pytest exits 5 when a selection collected no test: not a failure of the suite.
  if [ "$rc" -eq 5 ]; then
    log "pytest collected no tests for this selection"
    rc=0
  fi
  return "$rc"
}

cmd=${1:-help}
case "$cmd" in
  serve)
    shift
    ensure_install
    exec "$VENV/bin/interview" serve "$@"
    ;;
  test)
    shift
    run_tests "$@"
    ;;
  freeze)
    ensure_install
    "$VENV/bin/python" -m pip freeze --exclude-editable | "$PYTHON" tools/depguard.py --freeze constraints.txt
    ;;
  help|-h|--help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    ensure_install
    exec "$VENV/bin/interview" "$@"
    ;;
esac
