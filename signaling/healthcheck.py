"""Container health checks (``interview healthcheck api|worker``): exit 0 when healthy, 1 otherwise,
with one line saying why. Images need no curl or celery CLI for them."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

from signaling.redact import redact_url


def check_api(url: str, *, timeout_s: float = 5.0) -> tuple[bool, str]:
    """``/api/health`` answers 200: Postgres and Redis reachable from the API process."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/health", timeout=timeout_s) as resp:
            return resp.status == 200, f"api: HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"api: HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"api: {exc}"


def check_worker(redis_url: str, *, hostname: str | None = None, timeout_s: float = 5.0) -> tuple[bool, str]:
    """This host's Celery node answers a ping over the broker: the worker is up, connected and
    consuming, not merely a live process."""
    from evaluation.celery_app import create_celery

    node = hostname or f"celery@{socket.gethostname()}"
    app = create_celery(redis_url)
    try:
        replies = app.control.ping(destination=[node], timeout=timeout_s)
    except Exception as exc:  # the broker's own errors (redis, kombu) differ by transport
        return False, f"worker {node}: broker {redact_url(redis_url)} unreachable: {exc}"
    finally:
        app.close()
    ok = any(node in reply for reply in replies or [])
    return ok, f"worker {node}: {'pong' if ok else 'no reply'}"
