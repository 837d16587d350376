"""compose.yaml against the CLI it runs and the image it builds (no Docker engine here: the file is
parsed and every command it gives is checked against ``interview``'s own parser)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from signaling.cli import build_parser
from signaling.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "compose.yaml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"


def _services() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(COMPOSE.read_text())
    services: dict[str, dict[str, Any]] = data["services"]
    return services


def _subcommands() -> set[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


def _interview_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) for every ``interview ...`` the file runs: service commands and health checks."""
    found: list[tuple[str, list[str]]] = []
    for name, service in _services().items():
        command = service.get("command")
        if isinstance(command, list) and command[:1] == ["interview"]:
            found.append((f"{name}.command", command))
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test[:2] == ["CMD", "interview"]:
            found.append((f"{name}.healthcheck", test[1:]))
    return found


def test_every_interview_command_parses() -> None:
    commands = _interview_commands()
    where = {w for w, _ in commands}
    assert {"api.command", "worker.command", "api.healthcheck", "worker.healthcheck"} <= where
    known = _subcommands()
    for place, argv in commands:
        assert argv[1] in known, (place, argv, sorted(known))
        try:
            build_parser().parse_args(argv[1:])  # the CLI itself rejects unknown flags or values
        except SystemExit as exc:
            pytest.fail(f"{place}: interview {' '.join(argv[1:])} does not parse (exit {exc.code})")


def test_workers_scale_and_everything_checks_its_health() -> None:
    services = _services()
    worker = services["worker"]
    # --scale needs replicas that do not collide: no fixed name, no published host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["REDIS_URL"].startswith("redis://redis:")
    # The API leaves scoring to the worker service instead of forking its own pool.
    assert services["api"]["environment"]["INTERVIEWER_EVAL_WORKERS"] == "0"
    assert "arrive with the evaluation issue" not in COMPOSE.read_text()


def test_dockerfile_installs_what_compose_runs() -> None:
    text = DOCKERFILE.read_text()
    copied = set(re.findall(r"^COPY (\S+) \1$", text, flags=re.MULTILINE))
    packages = re.search(r"include = \[([^\]]*)\]", (PROJECT_ROOT / "pyproject.toml").read_text())
    assert packages is not None
    for pattern in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert pattern in copied, f"Dockerfile does not copy package {pattern}"
    cmd = re.search(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    assert cmd is not None
    argv = yaml.safe_load(cmd.group(1))
    assert argv[:2] == ["interview", "serve"]
    build_parser().parse_args(argv[1:])
    # The API's data volume is writable by the image's user.
    assert "chown app /data" in text
    assert re.search(r"^USER app$", text, flags=re.MULTILINE)


def test_the_file_names_only_real_paths() -> None:
    # build: . must find the Dockerfile beside compose.yaml.
    for name, service in _services().items():
        if service.get("build"):
            assert (Path(COMPOSE.parent) / service["build"] / "Dockerfile").is_file(), name


def test_api_processes_run_behind_the_proxy_the_suite_tests() -> None:
    from signaling.proxy_config import ProxyOptions, render_nginx

    services = _services()
    api, proxy = services["api"], services["proxy"]
    # Several API processes, reached only through nginx (the scale-out tests run the same config).
    assert api["deploy"]["replicas"] >= 2
    assert "ports" not in api
    assert "container_name" not in api
    assert proxy["ports"] == ["8080:8080"]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    mount = next(v for v in proxy["volumes"] if "compose.conf" in v)
    host_path, container_path = mount.split(":")[:2]
    assert container_path in proxy["command"]
    rendered = render_nginx(ProxyOptions(listen="8080", upstreams=("api:8000",), run_dir=Path("/tmp/nginx")))
    assert (PROJECT_ROOT / host_path).read_text() == rendered, "re-render deploy/nginx/compose.conf"
