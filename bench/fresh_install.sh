#!/usr/bin/env bash
# What a new machine does with the README's command 1 (`./run.sh serve`), measured.
#
#   bench/fresh_install.sh [--build-llama]
#
# Clones the committed HEAD of this repository into an empty temporary folder (uncommitted changes
# are not part of the test, and there is no ../shared beside the clone, as for a user), installs with
# pip's cache turned off, starts `serve` on a free loopback port and waits for its `ready:` line.
# The one thing it reuses by default is the llama.cpp wheel built here (copied into an empty wheel
# cache of its own, INTERVIEWER_WHEEL_CACHE; `./run.sh` would build it in about 5 minutes);
# --build-llama builds it again. Debian packages that `run.sh` installs are already on this machine and are not removed
# (that step is `apt-get install` of espeak-ng, chromium, iproute2 and fonts-nanum).
# Last line: install_s=... ready_s=... total_s=... llama_wheel=reused|built
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_LLAMA=0
[ "${1:-}" = "--build-llama" ] && BUILD_LLAMA=1
LIMIT_S=${FRESH_INSTALL_LIMIT_S:-3600}

say() { printf '[fresh-install] %s\n' "$*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fresh-install.XXXXXX")
SERVE_PID=
cleanup() {
  if [ -n "$SERVE_PID" ]; then
    kill -TERM -- "-$SERVE_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$SERVE_PID" 2>/dev/null || true
  fi
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

say "cloning $(git -C "$REPO" rev-parse --short HEAD) into $WORK/repo"
git clone -q "$REPO" "$WORK/repo"
cd "$WORK/repo"

# run.sh keeps the llama.cpp wheel in a per-machine cache outside the clone; a new machine has none,
# so this run gets an empty one of its own (and a copy of this machine's wheel unless --build-llama).
machine_cache=$(cd "$REPO" && bash -c 'source <(sed -n "/^cpu_key=/,/^WHEELS=/p" run.sh); echo "$WHEELS"')
export INTERVIEWER_WHEEL_CACHE="$WORK/wheels"
mkdir -p "$INTERVIEWER_WHEEL_CACHE"
llama=reused
wheel=$(ls "$machine_cache"/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)
if [ "$BUILD_LLAMA" -eq 0 ] && [ -n "$wheel" ]; then
  cp "$wheel" "$INTERVIEWER_WHEEL_CACHE/"
  say "reusing the llama.cpp wheel built on this machine ($(basename "$wheel")): saves its ~5 min build"
else
  llama=built
  say "no llama.cpp wheel reused: run.sh builds it (about 5 minutes)"
fi

export PIP_NO_CACHE_DIR=1   # a fresh machine has an empty pip cache
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "./run.sh serve --port $port (pip cache off); log: $WORK/repo/serve.log"
start=$(date +%s.%N)
setsid ./run.sh serve --port "$port" >serve.log 2>&1 &
SERVE_PID=$!

installed_at=
while :; do
  now=$(date +%s.%N)
  if [ -z "$installed_at" ] && ls .venv/.installed-* >/dev/null 2>&1; then
    installed_at=$now
    say "installed after $(python3 -c "print(round($now - $start))") s; starting"
  fi
  if grep -q '^ready:\|ready: http' serve.log; then
    break
  fi
  if ! kill -0 "$SERVE_PID" 2>/dev/null; then
    tail -n 40 serve.log >&2
    say "serve exited before it was ready"
    exit 1
  fi
  if python3 -c "import sys; sys.exit(0 if $now - $start > $LIMIT_S else 1)"; then
    tail -n 40 serve.log >&2
    say "not ready after $LIMIT_S s"
    exit 1
  fi
  sleep 0.5
done
ready_at=$(date +%s.%N)
code=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/api/health').status)")
say "ready; GET /api/health -> $code"
[ "$code" = 200 ] || exit 1
python3 - "$start" "${installed_at:-$ready_at}" "$ready_at" "$llama" <<'EOF'
import sys
start, installed, ready = map(float, sys.argv[1:4])
print(
    f"install_s={installed - start:.1f} ready_s={ready - installed:.1f} "
    f"total_s={ready - start:.1f} llama_wheel={sys.argv[4]}"
)
EOF
