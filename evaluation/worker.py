"""Run a Celery worker for evaluation: ``python -m evaluation.worker`` with the config in
``INTERVIEWER_EVAL_CONFIG`` (what ``serve`` does for its local pool), or ``interview worker`` on
another machine (which builds the config from its settings and calls :func:`run_worker`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from celery import signals

from evaluation.celery_app import create_celery
from evaluation.config import QUEUE, WorkerConfig
from evaluation.process import init_process, shutdown_process


def run_worker(
    config: WorkerConfig,
    *,
    concurrency: int,
    nice: int = 0,
    hostname: str | None = None,
    loglevel: str = "INFO",
) -> int:
    """Block running the worker until it is told to stop (SIGTERM: finish running tasks first)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
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
