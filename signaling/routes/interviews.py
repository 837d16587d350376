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
from signaling.intake import InterviewCreatorDep
from signaling.routes.auth import CANDIDATE, InterviewAccessDep
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
    responses={
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
        422: {"model": ErrorOut},
        429: {"model": ErrorOut},
    },
    summary="Create an interview and its question plan from a resume; see INTERVIEWER_INTAKE",
)
async def create_interview(
    runtime: RuntimeDep, _: InterviewCreatorDep, body: InterviewCreate
) -> InterviewCreated:
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
    summary="An interview and its plan (interviewer sign-in); with the join token, the current question only",
)
async def get_interview(
    runtime: RuntimeDep, who: InterviewAccessDep, interview_id: uuid.UUID
) -> InterviewOut:
    interview = await cached_interview(runtime, interview_id)
    if who == CANDIDATE:
        return scoped_for_candidate(interview)
    return interview


def scoped_for_candidate(interview: InterviewOut) -> InterviewOut:
    """What the candidate may see of the plan: the question they are on, nothing ahead (the whole
    plan read in advance would let answers be prepared). Nothing once the interview is past it."""
    current = interview.questions[interview.current_question : interview.current_question + 1]
    return interview.model_copy(update={"questions": current, "plan_stats": {}})
