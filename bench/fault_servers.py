"""Postgres and Redis that a fault test or benchmark can stop and start again under a running server.

Both are the project's own embedded servers (``db.embedded``), each in its own data dir, so a
restart touches nobody else's: Postgres is stopped with ``pg_ctl -m fast`` (every connection is
cut, as a real restart does) and started again on the same Unix socket, so the URL the server holds
stays valid; Redis is terminated and started again on its socket with its append-only file.
"""

from __future__ import annotations

import os
from pathlib import Path

from db.embedded import EmbeddedPostgres, EmbeddedRedis


class RestartablePostgres:
    def __init__(self, data_dir: Path) -> None:
        self._embedded = EmbeddedPostgres(data_dir)
        self.pgdata = self._embedded.pgdata
        self._socket_dir: str | None = None
        self.url = ""

    def start(self) -> str:
        self.url = self._embedded.start()
        # postmaster.pid, line 5: the socket directory pgserver chose.
        self._socket_dir = (self.pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
        return self.url

    def _pg_ctl(self, args: list[str]) -> None:
        self._embedded.pg_ctl(args, timeout_s=60)

    def stop(self) -> None:
        """Stop the server now, cutting every connection (a restart's first half)."""
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def resume(self) -> None:
        """Start it again on the same socket."""
        assert self._socket_dir is not None, "start() first"
        log = str(self.pgdata / "log")
        self._pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", log, "start"])

    @property
    def running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            os.kill(int(pid_file.read_text().split()[0]), 0)
        except (OSError, ValueError):
            return False
        return True

    def close(self) -> None:
        if not self.running:
            self.resume()  # pgserver's own cleanup expects the server it started
        self._embedded.stop()


class RestartableRedis:
    def __init__(self, data_dir: Path) -> None:
        self._embedded = EmbeddedRedis(data_dir)
        self.url = self._embedded.url

    def start(self) -> str:
        return self._embedded.start()

    def stop(self) -> None:
        self._embedded.stop()

    def close(self) -> None:
        self._embedded.stop()
