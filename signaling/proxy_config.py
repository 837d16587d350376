"""The reverse proxy's configuration (nginx), rendered from the one template the tests, the
benchmarks and compose all use (``signaling/nginx.conf.template``, which explains each setting)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    listen: str
    """``host:port`` or a port, as nginx's ``listen`` takes it."""
    upstreams: tuple[str, ...]
    """``host:port`` of each ``serve`` process."""
    run_dir: Path
    """Where nginx keeps its pid, logs and temporary files."""
    max_fails: int = 0
    """Failed tries before nginx skips a process for ``fail_timeout_s``; 0: never skip. nginx counts
    a 503 as a failed try too, so a full process would be marked down, and with every process
    marked down nginx answers 502 ("no live upstreams") instead of passing on the 503 with
    Retry-After (bench/scale_out.py run 2). A dead process costs a refused connection, a millisecond."""
    fail_timeout_s: int = 5

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ValueError("the proxy needs at least one upstream process")


def template() -> str:
    return resources.files("signaling").joinpath("nginx.conf.template").read_text()


def render_nginx(options: ProxyOptions) -> str:
    servers = "\n".join(
        f"        server {u} max_fails={options.max_fails} fail_timeout={options.fail_timeout_s}s;"
        for u in options.upstreams
    )
    return (
        template()
        .replace("@LISTEN@", options.listen)
        .replace("@UPSTREAMS@", servers)
        .replace("@RUN_DIR@", str(options.run_dir))
    )


def upstreams_from(values: Sequence[str]) -> tuple[str, ...]:
    """``--upstream`` values: ``host:port`` each, or several separated by commas."""
    found = tuple(part.strip() for value in values for part in value.split(",") if part.strip())
    for item in found:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"an upstream is host:port, not {item!r}")
    return found
