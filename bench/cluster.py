"""Several real ``interview serve`` processes behind a real nginx, on one Postgres and one Redis:
what the scale-out tests and ``bench/scale_out.py`` run against.

Each process is started as an operator would (``python -m signaling.cli serve``) with the shared
``DATABASE_URL``, ``REDIS_URL``, data folder and secret key; nginx runs the configuration that
``interview proxy-config`` prints. Postgres and Redis are the project's embedded servers, started
once for the cluster (``bench.fault_servers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.fault_servers import RestartablePostgres, RestartableRedis
from signaling.proxy_config import ProxyOptions, render_nginx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "cluster-" + "0" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
    )


@dataclass
class ServeProcess:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class ClusterOptions:
    processes: int = 2
    max_rooms: int = 4
    env: dict[str, str] = field(default_factory=dict)
    """More settings for every process (``INTERVIEWER_...``)."""
    ready_timeout_s: float = 600.0
    interviewers: dict[str, str] = field(default_factory=dict)
    """Accounts (name: password) made before the processes start, for dashboards and listeners."""


class Cluster:
    def __init__(self, options: ClusterOptions, *, tmp: Path | None = None) -> None:
        self.options = options
        self.tmp = tmp or Path(tempfile.mkdtemp(prefix="interviewer-cluster-"))
        self._own_tmp = tmp is None
        self.pg = RestartablePostgres(self.tmp / "servers")
        self.redis = RestartableRedis(self.tmp / "servers")
        self.processes: list[ServeProcess] = []
        self.proxy_port = free_port()
        self._nginx: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The proxy: what candidates, pages and testers use."""
        return f"http://127.0.0.1:{self.proxy_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url,
            INTERVIEWER_DATA_DIR=str(self.tmp / "data"),
            INTERVIEWER_SECRET_KEY=SECRET,
            INTERVIEWER_MAX_ROOMS=str(self.options.max_rooms),
            INTERVIEWER_EVAL_WORKERS="0",
            INTERVIEWER_RATE_LIMIT_PER_MINUTE="0",
            INTERVIEWER_INTAKE="open",
            INTERVIEWER_INTAKE_PER_ADDRESS_PER_HOUR="0",
            INTERVIEWER_INTAKE_GLOBAL_PER_HOUR="0",
            INTERVIEWER_TTS_PRESYNTHESIZE="false",
            PYTHONPATH=str(ROOT),
        )
        env.update(self.options.env)
        return env

    async def start(self) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (run.sh installs Debian's nginx package)")
        self.pg.start()
        self.redis.start()
        for name, password in self.options.interviewers.items():
            await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "signaling.cli", "create-interviewer", name, "--password-stdin"],
                input=password.encode(),
                env=self.env(),
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        # One at a time: the first applies the migrations and assembles the model files.
        for n in range(self.options.processes):
            self.processes.append(self._spawn(f"serve{n}"))
            await self.wait_ready(self.processes[-1])
        self._start_nginx(binary)
        await self._wait_url(
            f"{self.url}/api/health", lambda: self._nginx is not None and self._nginx.poll() is None
        )

    def _spawn(self, name: str, port: int | None = None) -> ServeProcess:
        port = port or free_port()
        log = self.tmp / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "signaling.cli", "serve", "--port", str(port)],
                env=self.env(),
                stdout=out,
                stderr=out,
                cwd=ROOT,
                start_new_session=True,
            )
        return ServeProcess(name, port, proc, log)

    def _start_nginx(self, binary: str) -> None:
        run_dir = self.tmp / "nginx"
        run_dir.mkdir(parents=True, exist_ok=True)
        run_dir.chmod(0o777)  # nginx's worker drops to an unprivileged user when started as root
        options = ProxyOptions(
            listen=f"127.0.0.1:{self.proxy_port}",
            upstreams=tuple(f"127.0.0.1:{p.port}" for p in self.processes),
            run_dir=run_dir,
        )
        conf = run_dir / "nginx.conf"
        conf.write_text(render_nginx(options))
        check = subprocess.run([binary, "-t", "-q", "-c", str(conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects its configuration: {check.stderr}")
        with (run_dir / "stderr.log").open("wb") as err:
            self._nginx = subprocess.Popen(
                [binary, "-c", str(conf), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )

    async def wait_ready(self, process: ServeProcess) -> None:
        await self._wait_url(f"{process.url}/api/health", process.alive, what=process.name, log=process.log)

    async def _wait_url(
        self, url: str, alive: Callable[[], bool], *, what: str = "nginx", log: Path | None = None
    ) -> None:
        deadline = time.monotonic() + self.options.ready_timeout_s
        while time.monotonic() < deadline:
            if not alive():
                text = (await asyncio.to_thread(log.read_text, errors="replace"))[-3000:] if log else ""
                raise RuntimeError(f"{what} exited during start-up:\n{text}")
            if await asyncio.to_thread(_answers_200, url):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"{what} did not become ready at {url}")

    def kill(self, process: ServeProcess) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown, no handover."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.proc.pid, signal.SIGKILL)
        process.proc.wait(30)

    async def restart(self, process: ServeProcess) -> ServeProcess:
        """Start a dead process again on its port (nginx's upstream), as an operator would."""
        fresh = self._spawn(process.name, process.port)
        self.processes[self.processes.index(process)] = fresh
        await self.wait_ready(fresh)
        return fresh

    def process_for(self, port: int) -> ServeProcess:
        return next(p for p in self.processes if p.port == port)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_text()[-4000:]}" for p in self.processes)

    async def close(self) -> None:
        if self._nginx is not None and self._nginx.poll() is None:
            self._nginx.send_signal(signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._nginx.wait(10)
            if self._nginx.poll() is None:
                self._nginx.kill()
        for p in self.processes:
            if p.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.proc.pid, signal.SIGINT)
        for p in self.processes:
            try:
                await asyncio.to_thread(p.proc.wait, 60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.proc.pid, signal.SIGKILL)
        self.redis.close()
        self.pg.close()
        if self._own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
