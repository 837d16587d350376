"""What an interviewer reviews: one interview's transcript with scores and latency summary, and each
turn's recording. Interviewer sign-in required."""

from __future__ import annotations

import statistics
import uuid
from typing import Any

from fastapi import APIRouter

from agent.errors import NotFoundError
from db import queries
from db.engine import unit_of_work
from evaluation.answers import TurnView, group_answers
from signaling import live
from signaling.deps import RuntimeDep
from signaling.routes.auth import InterviewerDep
from signaling.schemas import ErrorOut

router = APIRouter(prefix="/api/review", tags=["review"])

LATENCY_KEYS = ("first_audio_s", "next_question_s", "endpointing_s", "stt_final_s", "tts_ttfb_s")


def latency_summary(turns: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per stage over the interview's turns: count, p50 and p95 in milliseconds."""
    out: dict[str, dict[str, float]] = {}
    for key in LATENCY_KEYS:
        values = sorted(
            float(v)
            for t in turns
            if isinstance(v := (t.get("latencies") or {}).get(key), int | float) and not isinstance(v, bool)
        )
        if not values:
            continue
        if len(values) == 1:
            p50 = p95 = values[0]
        else:
            cuts = statistics.quantiles(values, n=100, method="inclusive")
            p50, p95 = cuts[49], cuts[94]
        out[key.removesuffix("_s")] = {
            "count": len(values),
            "p50_ms": round(p50 * 1000),
            "p95_ms": round(p95 * 1000),
        }
    return out


@router.get(
    "/interviews/{interview_id}",
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="An interview for review: questions, transcript with recordings, answers, scores, latencies",
)
async def interview(runtime: RuntimeDep, _: InterviewerDep, interview_id: uuid.UUID) -> dict[str, Any]:
    snapshot = await live.interview_snapshot(runtime, interview_id, reviewer=True)
    if snapshot["type"] == "missing":
        raise NotFoundError(f"interview {interview_id} not found")
    async with unit_of_work(runtime.sessions) as session:
        questions = await queries.list_questions(session, interview_id)
    snapshot["questions"] = [{"ord": q.ord, "stage": q.stage, "text": q.text} for q in questions]
    snapshot["latency_summary"] = latency_summary(snapshot["turns"])
    snapshot["answers"] = answers_of(snapshot["turns"])
    return snapshot


def answers_of(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transcript's answers (``evaluation.answers``): which candidate turns make each one; its
    score is the one whose ``turn_id`` is the answer's first turn."""
    views = [
        TurnView(
            seq=t["seq"],
            speaker=t["speaker"],
            text=t["text"],
            kind=t.get("kind"),
            interrupted=bool(t.get("interrupted")),
            question_index=t.get("question_index"),
            turn_id=t.get("turn_id"),
        )
        for t in turns
    ]
    return [
        {
            "answer_key": str(a.key),
            "question_index": a.key.question_index,
            "follow_up": a.key.follow_up,
            "turn_id": a.first.turn_id,
            "seqs": list(a.seqs),
            "turn_ids": [t.turn_id for t in a.turns],
        }
        for a in group_answers(views)
    ]
