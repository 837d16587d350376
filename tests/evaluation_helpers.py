"""Helpers for the evaluation tests and the report benchmark: an interview with its resume ingested,
turn rows written the way the call writes them, a pool of worker processes, and waiting on the
interview's live events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import update

from db import events, queries
from db.engine import unit_of_work
from db.models import Interview, Question
from evaluation.workers import LocalWorkers, PoolOptions
from signaling.runtime import Runtime, worker_config
from tests.evaluation_data import Labelled
from tests.resume_factory import EN_RESUME, KO_RESUME


async def make_interview(
    runtime: Runtime, language: str, questions: list[str]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A live interview over a freshly ingested resume (so answers have resume chunks to match)."""
    text = KO_RESUME if language == "ko" else EN_RESUME
    ingested = await runtime.ingestor.ingest(text.encode(), "resume.txt", "text/plain")
    interview_id = uuid.uuid4()
    question_ids = [uuid.uuid4() for _ in questions]
    async with unit_of_work(runtime.sessions) as session:
        session.add(
            Interview(
                id=interview_id,
                resume_id=ingested.resume_id,
                state="live",
                language=language,
                target_role=ingested.target_role,
                question_count=len(questions),
                plan_stats={},
            )
        )
        await session.flush()
        for i, (qid, q) in enumerate(zip(question_ids, questions, strict=True)):
            session.add(
                Question(
                    id=qid, interview_id=interview_id, ord=i, stage="experience", text=q, source="template"
                )
            )
    return interview_id, question_ids


async def add_exchange(
    runtime: Runtime,
    interview_id: uuid.UUID,
    question_id: uuid.UUID,
    question: str,
    answer: str,
    *,
    start_s: float,
    duration_s: float,
) -> uuid.UUID:
    """The interviewer's question and the candidate's answer, as the call stores them; returns the
    answer's turn id."""
    async with unit_of_work(runtime.sessions) as session:
        await queries.add_turn(
            session, interview_id=interview_id, question_id=question_id, speaker="interviewer",
            text_=question,
            started_s=start_s, ended_s=start_s + 3.0,
            latencies={"first_audio_s": 0.35, "next_question_s": 1.2, "tts_ttfb_s": 0.1}, audio_path=None,
        )  # fmt: skip
        row = await queries.add_turn(
            session, interview_id=interview_id, question_id=question_id, speaker="candidate", text_=answer,
            started_s=start_s + 3.5, ended_s=start_s + 3.5 + duration_s,
            latencies={"endpointing_s": 0.4, "stt_final_s": 0.6, "kind": "answer"}, audio_path=None,
        )  # fmt: skip
        turn_id: uuid.UUID = row.id
    return turn_id


async def add_labelled(
    runtime: Runtime, interview_id: uuid.UUID, question_id: uuid.UUID, item: Labelled, *, start_s: float
) -> uuid.UUID:
    """``item``'s question and answer as one exchange (see :func:`add_exchange`), the answer as long
    as it would take to say."""
    return await add_exchange(
        runtime,
        interview_id,
        question_id,
        item.question,
        item.answer,
        start_s=start_s,
        duration_s=item.duration_s,
    )


@asynccontextmanager
async def worker_pool(runtime: Runtime, options: PoolOptions) -> AsyncIterator[LocalWorkers]:
    """Worker processes on the runtime's database and broker, taking tasks until the block ends."""
    config = worker_config(runtime.settings, database_url=runtime.database_url, redis_url=runtime.redis_url)
    workers = LocalWorkers(config, options)
    await asyncio.to_thread(workers.start, wait=True, timeout_s=180)
    try:
        yield workers
    finally:
        await asyncio.to_thread(workers.stop)


async def end_interview(runtime: Runtime, interview_id: uuid.UUID) -> None:
    async with unit_of_work(runtime.sessions) as session:
        await session.execute(update(Interview).where(Interview.id == interview_id).values(state="ended"))


class EventWaiter:
    """Subscribed to one interview's events from creation: nothing published after it is missed."""

    def __init__(self, redis: Redis, interview_id: uuid.UUID) -> None:
        self._pubsub = redis.pubsub()
        self._channel = events.interview_channel(interview_id)
        self.seen: list[dict[str, Any]] = []

    async def __aenter__(self) -> EventWaiter:
        await self._pubsub.subscribe(self._channel)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._pubsub.unsubscribe(self._channel)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def wait(self, match: Callable[[dict[str, Any]], bool], timeout_s: float = 180.0) -> dict[str, Any]:
        for event in self.seen:
            if match(event):
                return event

        async def next_match() -> dict[str, Any]:
            while True:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None:
                    continue
                event: dict[str, Any] = json.loads(message["data"])
                self.seen.append(event)
                if match(event):
                    return event

        return await asyncio.wait_for(next_match(), timeout_s)


def is_score(turn_id: uuid.UUID, status: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (
        e["type"] == "score" and e["turn_id"] == str(turn_id) and (status is None or e["status"] == status)
    )


def is_report(interview_id: uuid.UUID) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == "report_ready" and e["interview_id"] == str(interview_id)
