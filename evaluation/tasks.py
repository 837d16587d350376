"""The Celery tasks: score one answer, close an interview (a chord over the answers still unscored,
then the report), write the report.

Failure policy: a transient error (database, Redis, model timeout) is retried with exponential
backoff; once retries run out, or for an answer that fails the same way every time, the evaluation
is stored as ``failed`` with the reason and the task returns normally, so the report's chord still
runs and the report says which answers could not be scored.
"""

from __future__ import annotations

import logging
import random
import uuid
from typing import Any

from celery import chord
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError

from agent.errors import InterviewerError
from db import events
from db.engine import unit_of_work
from evaluation import bank, features, store
from evaluation.celery_app import CLOSE_TASK, FINALIZE_TASK, SCORE_TASK
from evaluation.process import WorkerProcess, current
from evaluation.report import build_report
from evaluation.scoring import AnswerInput, AnswerScore, score_answer

log = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, RedisError, OSError, TimeoutError)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, InterviewerError):
        return exc.retryable
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)
    return isinstance(exc, TRANSIENT)


def backoff_s(retries: int, cap_s: float) -> float:
    """Exponential with jitter, so retries of many answers do not arrive together."""
    return min(cap_s, 2.0**retries) * random.uniform(0.5, 1.0)


def _reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, InterviewerError) else str(exc)
    return f"{type(exc).__name__}: {message}"[:500]


async def score_turn(proc: WorkerProcess, turn_id: uuid.UUID) -> dict[str, Any]:
    """Score one candidate turn and store it (and bank it when excellent). Idempotent: a turn
    already done or failed is left as it is."""
    embedder, llm = proc.models.embedder, proc.models.llm
    async with unit_of_work(proc.sessions) as session:
        if await store.evaluation_status(session, turn_id) in store.TERMINAL:
            return {"turn_id": str(turn_id), "status": "already"}
        context = await store.answer_context(session, turn_id, embedder.info.name)
        if context is None or context.turn.speaker != "candidate":
            return {"turn_id": str(turn_id), "status": "skipped"}
        interview_id = context.interview.id
        attempt = await store.mark_running(
            session, turn_id=turn_id, interview_id=interview_id, worker=proc.name
        )
    channel = events.interview_channel(interview_id)
    await events.publish(
        proc.redis,
        channel,
        {
            "type": "score_started",
            "interview_id": str(interview_id),
            "turn_id": str(turn_id),
            "attempt": attempt,
            "worker": proc.name,
        },
    )
    turn = context.turn
    language = features.language_of(turn.text) if turn.text.strip() else context.interview.language
    item = AnswerInput(
        question=context.question,
        answer=turn.text,
        language=language,
        target_role=context.interview.target_role,
        started_s=turn.started_s,
        ended_s=turn.ended_s,
        resume_vectors=context.resume_vectors,
    )
    score = await score_answer(item, llm=llm, embedder=embedder, options=proc.config.scoring)
    await _store_score(proc, interview_id, turn_id, turn.question_id, turn.text, score)
    return {"turn_id": str(turn_id), "status": "done", "overall": score.overall}


async def _store_score(
    proc: WorkerProcess,
    interview_id: uuid.UUID,
    turn_id: uuid.UUID,
    question_id: uuid.UUID | None,
    text: str,
    score: AnswerScore,
) -> None:
    options = proc.config.scoring
    scores = score.scores_json()
    async with unit_of_work(proc.sessions) as session:
        decision = await bank.offer(
            session,
            question_id=question_id,
            turn_id=turn_id,
            answer=text,
            score=score.overall,
            embedding=score.embedding,
            embedding_model=proc.models.embedder.info.name,
            threshold=options.bank_threshold,
            duplicate_cosine=options.bank_duplicate_cosine,
        )
        scores["bank"] = decision.reason
        await store.save_evaluation(
            session,
            turn_id=turn_id,
            interview_id=interview_id,
            status="done",
            scores=scores,
            features=score.features.to_dict(),
            overall=score.overall,
            error=None,
        )
    await _publish_score(
        proc, interview_id, turn_id, status="done", overall=score.overall, competencies=score.competencies
    )


async def _publish_score(
    proc: WorkerProcess, interview_id: uuid.UUID, turn_id: uuid.UUID, **fields: Any
) -> None:
    """Pages watching the interview see each answer's score (or failure) the moment it is stored."""
    event = {"type": "score", "interview_id": str(interview_id), "turn_id": str(turn_id), **fields}
    await events.publish(proc.redis, events.interview_channel(interview_id), event)


async def record_failure(proc: WorkerProcess, turn_id: uuid.UUID, reason: str) -> dict[str, Any]:
    async with unit_of_work(proc.sessions) as session:
        context = await store.answer_context(session, turn_id, proc.models.embedder.info.name)
        if context is None:
            return {"turn_id": str(turn_id), "status": "skipped", "error": reason}
        interview_id = context.interview.id
        await store.save_evaluation(
            session,
            turn_id=turn_id,
            interview_id=interview_id,
            status="failed",
            scores={},
            features={},
            overall=None,
            error=reason,
        )
    await _publish_score(proc, interview_id, turn_id, status="failed", error=reason)
    return {"turn_id": str(turn_id), "status": "failed", "error": reason}


async def finalize(proc: WorkerProcess, interview_id: uuid.UUID) -> dict[str, Any]:
    async with unit_of_work(proc.sessions) as session:
        inputs = await store.report_inputs(session, interview_id)
        if inputs is None:
            return {"interview_id": str(interview_id), "status": "missing"}
        report = build_report(inputs)
        report["models"]["names"].setdefault("embeddings", proc.models.embedder.info.name)
        report["models"]["names"].setdefault("llm", proc.models.llm.info.name)
        await store.upsert_report(
            session,
            interview_id=interview_id,
            summary=report["summary"],
            scores={"overall": report["overall"], "competencies": report["competencies"], "scale": "0-100"},
            status=report["status"],
            details=report,
        )
    # After commit: no reader can keep a report older than this one.
    await proc.cache.invalidate(proc.report_ns, str(interview_id))
    await events.publish(
        proc.redis,
        events.interview_channel(interview_id),
        {"type": "report_ready", "interview_id": str(interview_id), "status": report["status"]},
    )
    return {"interview_id": str(interview_id), "status": report["status"]}


def register_tasks(app: Any) -> None:
    """Define the tasks on ``app`` (the producer's app and each worker's)."""

    @app.task(name=SCORE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def score(self: Any, turn_id: str) -> dict[str, Any]:
        proc = current()
        tid = uuid.UUID(turn_id)
        try:
            return proc.run(score_turn(proc, tid))
        except Exception as exc:
            retries: int = self.request.retries
            if is_transient(exc) and retries < proc.config.max_retries:
                log.warning("scoring %s failed (%s), retry %d", turn_id, _reason(exc), retries + 1)
                raise self.retry(
                    exc=exc, countdown=backoff_s(retries, proc.config.retry_backoff_max_s)
                ) from exc
            log.exception("scoring %s failed for good", turn_id)
            return proc.run(record_failure(proc, tid, _reason(exc)))

    @app.task(name=FINALIZE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def finalize_report(self: Any, results: list[Any], interview_id: str) -> dict[str, Any]:
        proc = current()
        try:
            return proc.run(finalize(proc, uuid.UUID(interview_id)))
        except Exception as exc:
            if is_transient(exc) and self.request.retries < proc.config.max_retries:
                raise self.retry(exc=exc, countdown=backoff_s(self.request.retries, 10)) from exc
            raise

    @app.task(name=CLOSE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def close_interview(self: Any, interview_id: str) -> dict[str, Any]:
        """At hang-up: a chord over the answers not scored yet (in flight, queued, or never sent),
        whose body writes the report; straight to the report when every answer is scored."""
        proc = current()

        async def pending() -> list[uuid.UUID]:
            async with unit_of_work(proc.sessions) as session:
                return await store.pending_turn_ids(session, uuid.UUID(interview_id))

        try:
            turn_ids = proc.run(pending())
        except Exception as exc:
            if is_transient(exc) and self.request.retries < proc.config.max_retries:
                raise self.retry(exc=exc, countdown=backoff_s(self.request.retries, 10)) from exc
            raise
        if not turn_ids:
            return proc.run(finalize(proc, uuid.UUID(interview_id)))
        header = [score.s(str(t)) for t in turn_ids]
        chord(header)(finalize_report.s(interview_id))
        return {"interview_id": interview_id, "status": "waiting", "pending": len(turn_ids)}
