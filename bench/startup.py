"""Seconds from `./run.sh serve` (already installed) to ready: embedded Postgres and Redis started,
migrations applied, models preloaded.

    .venv/bin/python -m bench.startup [--runs 3]

Runs each start in a fresh data dir (first start: initdb included) and again on the same dir (a
restart). Last line: startup_s=<median fresh> startup_restart_s=<median restart>
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_once(data_dir: Path) -> float:
    env = dict(os.environ, INTERVIEWER_DATA_DIR=str(data_dir), INTERVIEWER_PORT=str(_free_port()))
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(ROOT / "run.sh"), "serve"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            print("   ", line.rstrip())
            if "ready: http" in line:
                return time.perf_counter() - t0
        raise RuntimeError(f"serve exited with {proc.wait()} before it was ready")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main(runs: int) -> str:
    fresh: list[float] = []
    restart: list[float] = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            print(f"run {i + 1}: fresh data dir")
            fresh.append(start_once(Path(tmp)))
            print(f"run {i + 1}: restart on the same data dir")
            restart.append(start_once(Path(tmp)))
    print(f"fresh: {[round(x, 2) for x in fresh]}  restart: {[round(x, 2) for x in restart]}")
    return f"startup_s={statistics.median(fresh):.2f} startup_restart_s={statistics.median(restart):.2f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    print(main(parser.parse_args().runs))
