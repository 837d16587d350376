"""The Celery app, built by a factory from a Redis URL (broker and result backend are the same
Redis as everything else). Nothing is configured at import: the producer (``serve``) and each
worker build their own app from their settings."""

from __future__ import annotations

from typing import Any

from celery import Celery

from evaluation.config import QUEUE, celery_url

SCORE_TASK = "evaluation.score_answer"
FINALIZE_TASK = "evaluation.finalize_report"
CLOSE_TASK = "evaluation.close_interview"


def create_celery(redis_url: str) -> Any:
    url = celery_url(redis_url)
    app = Celery("interviewer-evaluation", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        # A task is acknowledged only once it finished, and a worker killed mid-task has its message
        # put back: the task runs again elsewhere (its writes are upserts, so that is safe).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One task reserved per process: a busy process never holds answers another could score.
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=6 * 3600,
        broker_connection_retry_on_startup=True,
        # Retry a lost broker for ever (Celery gives up after 100 tries by default and the worker
        # exits): a Redis restart or a long outage must not need someone to restart the workers.
        broker_connection_max_retries=None,
        # Loading the models in a new pool process takes ~1 s, more on a busy machine.
        worker_proc_alive_timeout=120.0,
        worker_hijack_root_logger=False,
        # Messages of a whole worker machine that vanished come back after this (acks_late).
        broker_transport_options={"visibility_timeout": 3600},
        result_backend_transport_options={"visibility_timeout": 3600},
    )
    from evaluation.tasks import register_tasks

    register_tasks(app)
    return app
