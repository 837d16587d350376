"""Interview creation (with its plan) and lookup."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from agent.errors import InvalidInputError, NotFoundError
from agent.session.presynth import plan_of
from db import queries
from db.engine import unit_of_work
from signaling.deps import RuntimeDep
from signaling.routes.auth import InterviewAccessDep
from signaling.runtime import Runtime
from signaling.schemas import ErrorOut, InterviewCreate, InterviewCreated, InterviewOut

router = APIRouter(prefix="/api/interviews", tags=["interviews"])


async def load_interview(runtime: Runtime, interview_id: uuid.UUID) -> dict[str, Any] | None:
    async with unit_of_work(runtime.sessions) as session:
        interview = await queries.get_interview(session, interview_id)
        if interview is None:
            return None
        questions = await queries.list_questions(session, interview_id)
    return InterviewOut(
        id=interview.id,
        resume_id=interview.resume_id,
        state=interview.state,
        language=interview.language,
        target_role=interview.target_role,
        question_count=interview.question_count,
        current_question=interview.current_question,
        follow_ups=interview.follow_ups,
        created_at=interview.created_at,
        plan_stats=interview.plan_stats,
        questions=[
            {"ord": q.ord, "stage": q.stage, "text": q.text, "source": q.source, "chunk_ids": q.chunk_ids}
            for q in questions
        ],
    ).model_dump(mode="json")


async def cached_interview(runtime: Runtime, interview_id: uuid.UUID) -> InterviewOut:
    data = await runtime.cache.get_or_load(
        runtime.questions_ns, str(interview_id), lambda: load_interview(runtime, interview_id)
    )
    if data is None:
        raise NotFoundError(f"interview {interview_id} not found")
    return InterviewOut.model_validate(data)


@router.post(
    "",
    status_code=201,
    response_model=InterviewCreated,
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Create an interview and its question plan from a resume",
)
async def create_interview(runtime: RuntimeDep, body: InterviewCreate) -> InterviewCreated:
    if body.question_count > runtime.settings.max_question_count:
        raise InvalidInputError(f"question_count must be at most {runtime.settings.max_question_count}")
    plan = await runtime.planner.create_interview(
        body.resume_id,
        language=body.language,
        question_count=body.question_count,
        max_questions=runtime.settings.max_question_count,
        follow_ups=body.follow_ups,
    )
    if runtime.presynth is not None:
        # In the background, at low priority: the first question is ready when the candidate joins.
        runtime.presynth.submit(plan_of(plan))
    # Written after commit: bumps the key's generation so no reader can keep an older copy.
    await runtime.cache.invalidate(runtime.questions_ns, str(plan.interview_id))
    interview = await cached_interview(runtime, plan.interview_id)
    token = runtime.tokens.issue(plan.interview_id, ttl_s=runtime.settings.join_token_ttl_s)
    return InterviewCreated(**interview.model_dump(), join_token=token)


@router.get(
    "/{interview_id}",
    response_model=InterviewOut,
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="An interview and its plan (interviewer sign-in, or the interview's join token)",
)
async def get_interview(runtime: RuntimeDep, _: InterviewAccessDep, interview_id: uuid.UUID) -> InterviewOut:
    return await cached_interview(runtime, interview_id)
