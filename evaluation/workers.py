"""Local evaluation workers: ``serve`` starts one Celery worker OS process (with its pool of
``processes`` children) at a lower OS priority, and stops it on shutdown."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from redis import Redis

from evaluation.config import CONFIG_ENV, WorkerConfig
from evaluation.process import READY_CHANNEL

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PoolOptions:
    processes: int = 2
    nice: int = 19
    """Added niceness: the live call process keeps the CPU when both want it. At +10 (a tenth of
    the CPU's weight) two workers judging with the 1.5B model still slowed the call's final
    transcripts; at +19 they run on what the call leaves."""
    hostname: str = "evaluation-local@%h"
    loglevel: str = "WARNING"
    log_file: Path | None = None

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ValueError("processes must be at least 1")
        if not 0 <= self.nice <= 19:
            raise ValueError("nice must be within 0-19")


class LocalWorkers:
    def __init__(self, config: WorkerConfig, options: PoolOptions = PoolOptions()) -> None:
        self.config = config
        self.options = options
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def pool_pids(self) -> list[int]:
        """The pool processes that run tasks (children of the worker process)."""
        if self._proc is None:
            return []
        try:
            return [p.pid for p in psutil.Process(self._proc.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def start(self, *, wait: bool = True, timeout_s: float = 120.0) -> None:
        """Start the worker; with ``wait``, return once every pool process has loaded its models
        (each announces itself on Redis pub/sub: no polling)."""
        if self._proc is not None:
            raise RuntimeError("workers already started")
        redis = Redis.from_url(self.config.broker_url, socket_timeout=timeout_s) if wait else None
        pubsub = redis.pubsub() if redis is not None else None  # type: ignore[no-untyped-call]
        if pubsub is not None:
            pubsub.subscribe(READY_CHANNEL)
            pubsub.get_message(timeout=timeout_s)  # the subscription confirmation
        args = [
            sys.executable, "-m", "evaluation.worker",
            f"--concurrency={self.options.processes}", f"--nice={self.options.nice}",
            f"--hostname={self.options.hostname}", f"--loglevel={self.options.loglevel}",
        ]  # fmt: skip
        env = {**os.environ, CONFIG_ENV: self.config.to_json()}
        if self.options.log_file is not None:
            self.options.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.options.log_file, "ab") if self.options.log_file else None  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        finally:
            if out is not None:
                out.close()
        log.info("evaluation workers starting (pid %d, %d processes)", self._proc.pid, self.options.processes)
        if pubsub is None or redis is None:
            return
        try:
            self._await_ready(pubsub, timeout_s)
        finally:
            pubsub.close()
            redis.close()

    def _await_ready(self, pubsub: object, timeout_s: float) -> None:
        assert self._proc is not None
        ready: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while len(ready) < self.options.processes:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise TimeoutError(f"evaluation workers not ready within {timeout_s:.0f} s")
            if self._proc.poll() is not None:
                raise RuntimeError(f"evaluation worker exited with {self._proc.returncode}")
            message = pubsub.get_message(timeout=min(left, 1.0))  # type: ignore[attr-defined]
            if message and message.get("type") == "message":
                name = message["data"].decode()
                pid = int(name.rsplit(":", 1)[1])
                if pid in self.pool_pids():
                    ready.add(name)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Warm shutdown (running tasks finish), then kill what is left."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("evaluation workers did not stop in %.0f s; killing them", timeout_s)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
