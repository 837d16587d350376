"""The Celery tasks: score one answer, close an interview (a chord over the answers still unscored,
then the report), write the report.

An answer is one or more candidate turns (``evaluation.answers``); each candidate turn's task scores
the whole answer as it stands, so an answer that grows is scored again and its one row replaced.

Failure policy: a transient error (database, Redis, model timeout) is retried with exponential
backoff; once retries run out, or for an answer that fails the same way every time, the evaluation
is stored as ``failed`` with the reason and the task returns normally, so the report's chord still
runs and the report says which answers could not be scored. Storing the failure can fail too: that
is logged and the task still returns. A report that cannot be built is replaced by a partial one
that says why; one that cannot be written at all is left to the abandoned-interview sweep.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from typing import Any

from celery import chord
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError

from agent.errors import InterviewerError
from db import events
from db.engine import unit_of_work
from evaluation import bank, features, store
from evaluation.answers import Answer
from evaluation.celery_app import CLOSE_TASK, FINALIZE_TASK, SCORE_TASK
from evaluation.process import WorkerProcess, current
from evaluation.report import build_report
from evaluation.reports import write_fallback_report
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
    """Score the answer ``turn_id`` belongs to, as it stands now, and store it (and bank it when
    excellent). Idempotent: an answer already scored (or failed) as it stands is left alone; one
    that grew since (a turn joined) is scored again and its row replaced."""
    embedder, llm = proc.models.embedder, proc.models.llm
    async with unit_of_work(proc.sessions) as session:
        context = await store.answer_context(session, turn_id, embedder.info.name)
        if context is None:
            return {"turn_id": str(turn_id), "status": "skipped"}
        answer, key_id = context.answer, context.first_turn.id
        if store.is_current(await store.lock_answer(session, key_id), answer):
            return {"turn_id": str(key_id), "status": "already"}
        interview_id = context.interview.id
        attempt = await store.mark_running(
            session, turn_id=key_id, interview_id=interview_id, worker=proc.name
        )
    await events.publish(
        proc.redis,
        events.interview_channel(interview_id),
        {
            "type": "score_started",
            "interview_id": str(interview_id),
            "turn_id": str(key_id),
            **_answer_fields(answer),
            "attempt": attempt,
            "worker": proc.name,
        },
    )
    text = answer.text
    language = features.language_of(text) if text else context.interview.language
    spoken = answer.spoken_s
    item = AnswerInput(
        question=context.question,
        answer=text,
        language=language,
        target_role=context.interview.target_role,
        started_s=0.0 if spoken is not None else None,
        ended_s=spoken,
        resume_vectors=context.resume_vectors,
    )
    score = await score_answer(item, llm=llm, embedder=embedder, options=proc.config.scoring)
    stored = await _store_score(proc, context, score)
    return {"turn_id": str(key_id), "status": "done" if stored else "superseded", "overall": score.overall}


def _answer_fields(answer: Answer) -> dict[str, Any]:
    """What events say about the answer: pages key scores by the first turn's id (``turn_id``)."""
    return {
        "answer_key": str(answer.key),
        "turn_ids": [str(t.turn_id) for t in answer.turns],
        "last_seq": answer.last_seq,
    }


async def _store_score(proc: WorkerProcess, context: store.AnswerContext, score: AnswerScore) -> bool:
    """Store the score unless a newer version of the answer was stored meanwhile; False then."""
    options = proc.config.scoring
    answer, key_id, interview_id = context.answer, context.first_turn.id, context.interview.id
    scores = score.scores_json()
    async with unit_of_work(proc.sessions) as session:
        if not store.supersedes(await store.lock_answer(session, key_id), answer.last_seq):
            return False
        decision = await bank.offer(
            session,
            question_id=context.first_turn.question_id,
            turn_id=key_id,
            answer=answer.text,
            score=score.overall,
            embedding=score.embedding,
            embedding_model=proc.models.embedder.info.name,
            threshold=options.bank_threshold,
            duplicate_cosine=options.bank_duplicate_cosine,
        )
        scores["bank"] = decision.reason
        await store.save_evaluation(
            session,
            turn_id=key_id,
            interview_id=interview_id,
            status="done",
            scores=scores,
            features=score.features.to_dict(),
            overall=score.overall,
            error=None,
            last_seq=answer.last_seq,
            turn_count=len(answer.turns),
        )
    await _publish_score(
        proc,
        interview_id,
        key_id,
        status="done",
        overall=score.overall,
        competencies=score.competencies,
        **_answer_fields(answer),
    )
    return True


async def _publish_score(
    proc: WorkerProcess, interview_id: uuid.UUID, turn_id: uuid.UUID, **fields: Any
) -> None:
    """Pages watching the interview see each answer's score (or failure) the moment it is stored."""
    event = {"type": "score", "interview_id": str(interview_id), "turn_id": str(turn_id), **fields}
    await events.publish(proc.redis, events.interview_channel(interview_id), event)


async def record_failure(proc: WorkerProcess, turn_id: uuid.UUID, reason: str) -> dict[str, Any]:
    """Store that the answer of ``turn_id`` could not be scored. A score of an earlier version of
    the answer is kept (with the reason): the report marks it as not covering the whole answer."""
    async with unit_of_work(proc.sessions) as session:
        context = await store.answer_context(session, turn_id, proc.models.embedder.info.name)
        if context is None:
            return {"turn_id": str(turn_id), "status": "skipped", "error": reason}
        answer, key_id, interview_id = context.answer, context.first_turn.id, context.interview.id
        existing = await store.lock_answer(session, key_id)
        if existing is not None and existing.status == "done":
            existing.error = reason
            return {"turn_id": str(key_id), "status": "kept", "error": reason}
        if not store.supersedes(existing, answer.last_seq):
            return {"turn_id": str(key_id), "status": "superseded", "error": reason}
        await store.save_evaluation(
            session,
            turn_id=key_id,
            interview_id=interview_id,
            status="failed",
            scores={},
            features={},
            overall=None,
            error=reason,
            last_seq=answer.last_seq,
            turn_count=len(answer.turns),
        )
    await _publish_score(proc, interview_id, key_id, status="failed", error=reason, **_answer_fields(answer))
    return {"turn_id": str(key_id), "status": "failed", "error": reason}


def record_failure_safely(proc: WorkerProcess, turn_id: uuid.UUID, reason: str) -> dict[str, Any]:
    """:func:`record_failure`, retried a few times in place, that never raises: the scoring task
    is a chord header, and a header that raises fails the chord, so no report would be written.
    When the failure cannot be stored either, the report shows the answer as not scored."""
    last: BaseException | None = None
    for attempt in range(_RECORD_ATTEMPTS):
        try:
            return proc.run(record_failure(proc, turn_id, reason))
        except Exception as exc:
            last = exc
            if not is_transient(exc):
                break
            time.sleep(backoff_s(attempt, 4.0))
    log.error("could not record the failure of %s (%s): %s", turn_id, reason, last)
    return {"turn_id": str(turn_id), "status": "unrecorded", "error": reason}


_RECORD_ATTEMPTS = 3


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
    await _announce_report(proc, interview_id, report["status"])
    return {"interview_id": str(interview_id), "status": report["status"]}


async def _announce_report(proc: WorkerProcess, interview_id: uuid.UUID, status: str) -> None:
    # After commit: no reader can keep a report older than this one.
    await proc.cache.invalidate(proc.report_ns, str(interview_id))
    await events.publish(
        proc.redis,
        events.interview_channel(interview_id),
        {"type": "report_ready", "interview_id": str(interview_id), "status": status},
    )


async def finalize_fallback(proc: WorkerProcess, interview_id: uuid.UUID, reason: str) -> dict[str, Any]:
    """The report when :func:`finalize` failed for good: a partial one saying why, with whatever
    answers could still be read."""
    async with unit_of_work(proc.sessions) as session:
        report = await write_fallback_report(session, interview_id, reason)
    if report is None:
        return {"interview_id": str(interview_id), "status": "missing"}
    await _announce_report(proc, interview_id, report["status"])
    return {"interview_id": str(interview_id), "status": report["status"], "fallback": True}


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
            reason = _reason(exc)
        # Outside the except: a second error while recording this one must not escape the task.
        return record_failure_safely(proc, tid, reason)

    @app.task(name=FINALIZE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def finalize_report(self: Any, results: list[Any], interview_id: str) -> dict[str, Any]:
        proc = current()
        iid = uuid.UUID(interview_id)
        try:
            return proc.run(finalize(proc, iid))
        except Exception as exc:
            if is_transient(exc) and self.request.retries < proc.config.max_retries:
                raise self.retry(exc=exc, countdown=backoff_s(self.request.retries, 10)) from exc
            log.exception("the report of %s failed for good; writing a partial one", interview_id)
            reason = _reason(exc)
        # Still unwritable (the database is down): the abandoned-interview sweep
        # (evaluation.abandoned.finalize_abandoned) writes it once the database is back.
        return proc.run(finalize_fallback(proc, iid, reason))

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
