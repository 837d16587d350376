"""Run a Celery worker for evaluation: ``python -m evaluation.worker`` with the config in
``INTERVIEWER_EVAL_CONFIG`` (what ``serve`` does for its local pool), or ``interview worker`` on
another machine (which builds the config from its settings and calls :func:`run_worker`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from celery import signals
from redis import Redis
from redis.exceptions import RedisError

from evaluation.celery_app import create_celery
from evaluation.config import QUEUE, WorkerConfig
from evaluation.process import init_process, shutdown_process

log = logging.getLogger(__name__)


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def wait_for_broker(
    url: str,
    *,
    retry_max_s: float = 30.0,
    give_up_after_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Block until the broker (Redis) answers, retrying with capped exponential backoff and one log
    line per try that says what is wrong; returns the number of failed tries. A worker started
    before Redis (compose, a reboot) waits instead of crashing. ``give_up_after_s``: raise
    ``ConnectionError`` after about this long (None: wait for ever)."""
    started = time.monotonic()
    failures = 0
    while True:
        client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            client.ping()
            if failures:
                log.warning("broker %s reachable after %d failed tries", redacted(url), failures)
            return failures
        except (RedisError, OSError) as exc:
            failures += 1
            delay = min(retry_max_s, 2.0 ** min(failures - 1, 10))
            waited = time.monotonic() - started
            if give_up_after_s is not None and waited + delay > give_up_after_s:
                raise ConnectionError(
                    f"broker {redacted(url)} unreachable for {waited:.0f} s: {exc}"
                ) from exc
            log.warning(
                "evaluation worker waiting for its broker %s (try %d failed: %s); next try in %.0f s",
                redacted(url),
                failures,
                exc,
                delay,
            )
            sleep(delay)
        finally:
            client.close()


def run_worker(
    config: WorkerConfig,
    *,
    concurrency: int,
    nice: int = 0,
    hostname: str | None = None,
    loglevel: str = "INFO",
    broker_wait_s: float | None = None,
) -> int:
    """Block running the worker until it is told to stop (SIGTERM: finish running tasks first).
    Waits for the broker first (for ever unless ``broker_wait_s``)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=loglevel, format="[%(asctime)s: %(levelname)s/%(name)s] %(message)s")
    wait_for_broker(config.broker_url, give_up_after_s=broker_wait_s)
    if nice:
        # Before the pool forks: every pool process inherits the lower priority, so live calls on
        # the same machine keep their latency.
        os.nice(nice)

    def on_init(**_: Any) -> None:
        init_process(config)

    def on_shutdown(**_: Any) -> None:
        shutdown_process()

    signals.worker_process_init.connect(on_init, weak=False)
    signals.worker_process_shutdown.connect(on_shutdown, weak=False)
    app = create_celery(config.broker_url)
    argv = [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        f"--queues={QUEUE}",
        # No gossip, mingle or heartbeats: they compare wall clocks across machines, which drifted
        # by 30 s on the predecessor and made Celery think live workers were gone.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.worker", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes (default 2)")
    parser.add_argument("--nice", type=int, default=0, help="lower the OS priority by this much")
    parser.add_argument("--hostname", help="Celery node name (default: celery@HOST)")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    config = WorkerConfig.from_env()
    return run_worker(
        config, concurrency=args.concurrency, nice=args.nice, hostname=args.hostname, loglevel=args.loglevel
    )


if __name__ == "__main__":
    sys.exit(main())
