"""The producer side, in the call process: each finished candidate turn is enqueued for scoring
at once, and hang-up enqueues the interview's close (chord + report). Sending never blocks the
event loop (a dedicated thread talks to the broker) and never raises into the call.

A turn's task scores the whole answer the turn belongs to (``evaluation.answers``): when a
candidate goes on after a false end of turn, the second turn's task scores both turns as one
answer and replaces the first score. Nothing here needs to know which turns belong together."""

from __future__ import annotations

import asyncio
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agent.session.turns import TurnRecord
from evaluation.celery_app import CLOSE_TASK, SCORE_TASK
from evaluation.config import QUEUE

log = logging.getLogger(__name__)
_MARK_TTL_S = 7 * 24 * 3600


class EvaluationQueue:
    def __init__(self, celery: Any, redis: Redis) -> None:
        self._celery = celery
        self._redis = redis
        # kombu connections are not shared across threads: one sender thread.
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluation-send")
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- the CallManager hooks (synchronous, called on the event loop) ---------------------------

    def on_turn(self, interview_id: uuid.UUID, record: TurnRecord, turn_id: uuid.UUID) -> None:
        if record.speaker == "candidate":
            self._spawn(self.enqueue_answer(turn_id))

    def on_end(self, interview_id: uuid.UUID) -> None:
        self._spawn(self.close_interview(interview_id))

    # --- the same, awaitable ---------------------------------------------------------------------

    async def enqueue_answer(self, turn_id: uuid.UUID) -> bool:
        """Enqueue one answer, once per turn id (a repeated call is a no-op). False if it was
        already enqueued or could not be sent (the hang-up chord scores it then)."""
        mark = f"evaluation:enqueued:{turn_id}"
        try:
            if not await self._redis.set(mark, 1, nx=True, ex=_MARK_TTL_S):
                return False
        except RedisError as exc:
            log.warning("cannot mark %s as enqueued: %s", turn_id, exc)
            return False
        if not await self._send(SCORE_TASK, str(turn_id), task_id=f"score-{turn_id}"):
            await self._redis.delete(mark)
            return False
        return True

    async def close_interview(self, interview_id: uuid.UUID) -> bool:
        return await self._send(
            CLOSE_TASK, str(interview_id), task_id=f"close-{interview_id}-{uuid.uuid4().hex[:8]}"
        )

    async def _send(self, name: str, arg: str, *, task_id: str) -> bool:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._sender,
                lambda: self._celery.send_task(name, args=[arg], task_id=task_id, queue=QUEUE),
            )
        except Exception as exc:  # the broker is down: logged; the data stays in Postgres
            log.error("could not enqueue %s(%s): %s", name, arg, exc)
            return False
        return True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for sends in progress (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        self._sender.shutdown(wait=True)
