"""The installed `interview` command and a real `serve` process on embedded servers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from signaling.runtime import Runtime
from tests.resume_factory import EN_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "signaling.cli"]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["INTERVIEWER_DATA_DIR"] = str(data_dir)
    return env


def test_help_lists_commands() -> None:
    out = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("serve", "ingest", "models", "migrate", "worker", "healthcheck"):
        assert command in out


def test_ingest_with_plan_prints_json(tmp_path: Path) -> None:
    resume = tmp_path / "jane.txt"
    resume.write_text(EN_RESUME)
    proc = subprocess.run(
        [*CLI, "ingest", str(resume), "--plan", "--questions", "3", "--json"],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "data"),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["header"]["name"] == "Jane Park"
    assert out["target_role"] == "Backend Engineer"
    assert len(out["questions"]) == 3


def test_ingest_bad_file_exits_2_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "photo.pdf"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    proc = subprocess.run(
        [*CLI, "ingest", str(bad)], capture_output=True, text=True, env=_env(tmp_path / "data"), timeout=300
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_command_reports_each_role(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*CLI, "models"], capture_output=True, text=True, env=_env(tmp_path / "data"), timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "llm" in proc.stdout
    assert "embeddings" in proc.stdout
    assert "SmolLM2" in proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_starts_answers_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    # An ignored SIGINT survives exec: run from a shell's background job (`cmd &`), the suite would
    # hand serve a Ctrl-C it cannot see, and serve would stop on SIGINT's graceful path but exit 0.
    # A handler does not survive exec, so serve starts with SIGINT as a terminal delivers it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)],
            env=_env(tmp_path / "data"),
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert proc.stderr is not None
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "ready: http" in line:
                break
        else:
            pytest.fail(f"serve exited before ready: {''.join(lines)}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30) as resp:
            health = json.load(resp)
        assert health["status"] == "ok"
        assert any(m.startswith("llm:") for m in health["models"])
        progress = "".join(lines)
        assert "Postgres ready" in progress
        assert "llm ready" in progress
        # The container health check compose runs, against the live server and a dead port.
        check = [*CLI, "healthcheck", "api", "--url"]
        alive = subprocess.run(
            [*check, f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=60
        )
        assert alive.returncode == 0, alive.stderr
        dead = subprocess.run(
            [*check, f"http://127.0.0.1:{_free_port()}"], capture_output=True, text=True, timeout=60
        )
        assert dead.returncode == 1
        assert "api:" in dead.stderr
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
        rest = proc.stderr.read()
        proc.stderr.close()
    assert code == 130, rest  # Ctrl-C: a clean shutdown, reported the conventional way
    assert "Traceback" not in rest
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()  # Postgres was stopped


def test_worker_health_check_pings_its_own_celery_node(runtime: Runtime, tmp_path: Path) -> None:
    """What compose's worker health check runs: a live worker answers, a missing node does not."""
    env = _env(tmp_path / "data")
    env.update(DATABASE_URL=runtime.database_url, REDIS_URL=runtime.redis_url)
    node = f"celery@healthcheck-{os.getpid()}"
    proc = subprocess.Popen(
        [*CLI, "worker", "--concurrency", "1", "--hostname", node],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:  # Celery logs "ready." once it consumes
            if "ready." in line:
                break
        else:
            pytest.fail("the worker exited before it was ready")
        check = [*CLI, "healthcheck", "worker", "--hostname"]
        alive = subprocess.run([*check, node], env=env, capture_output=True, text=True, timeout=120)
        assert alive.returncode == 0, alive.stderr
        assert "pong" in alive.stdout
        missing = subprocess.run(
            [*check, node + "-gone"], env=env, capture_output=True, text=True, timeout=120
        )
        assert missing.returncode == 1
        assert "no reply" in missing.stderr
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(120)
        proc.stderr.close()
