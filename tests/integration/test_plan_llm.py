"""Plans written by the bilingual 1.5B model (the product default), real, on the session's embedded
Postgres and embedder: a Korean and an English plan read as a person's questions by the independent
checker (bench/question_defects.py, which the planner does not use), and are mostly the model's own.

The resumes are the ones whose plans showed the faults of issue 12 (a Korean form resume with a
labelled skills list, an English one whose dates were misread as a team size).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agent.models.llm import LlamaCppLLM
from agent.plan.planner import InterviewPlanner, PlanOptions, PlanResult
from bench.question_defects import question_defects, repeated_topics
from db import queries
from db.engine import unit_of_work
from db.models import ResumeChunk
from signaling.runtime import Runtime
from tests.resume_factory import pdf_bytes
from tests.resume_samples import EN_RESUME_FULLSTACK, KO_RESUME_FORM

pytestmark = pytest.mark.slow

QUESTIONS = 6


async def _ingest(runtime: Runtime, text: str, name: str) -> uuid.UUID:
    result = await runtime.ingestor.ingest(pdf_bytes(text), name, "application/pdf")
    return result.resume_id


async def _chunks(runtime: Runtime, resume_id: uuid.UUID) -> dict[str, str]:
    async with unit_of_work(runtime.sessions) as session:
        rows = await session.scalars(select(ResumeChunk).where(ResumeChunk.resume_id == resume_id))
        return {str(c.id): c.text for c in rows}


async def test_korean_resume_name_and_role_are_found(runtime: Runtime) -> None:
    # "이름: 홍길동 | 연락처: ..." is one form row of several fields; the name stops at the next label.
    resume_id = await _ingest(runtime, KO_RESUME_FORM, "홍길동_이력서.pdf")
    async with unit_of_work(runtime.sessions) as session:
        resume = await queries.get_resume(session, resume_id)
        assert resume is not None
        header = resume.parsed["header"]
        assert resume.language == "ko"
        assert resume.target_role == "백엔드 개발자"
    assert header["name"] == "홍길동"
    assert header["target_role"] == "백엔드 개발자"


async def _plan(
    runtime: Runtime, qwen: LlamaCppLLM, text: str, language: str
) -> tuple[PlanResult, dict[str, str]]:
    planner = InterviewPlanner(
        sessions=runtime.sessions,
        embedder=runtime.models.embedder,
        llm=qwen,
        options=PlanOptions(llm_languages=frozenset({"en", "ko"})),
    )
    resume_id = await _ingest(runtime, text, f"plan_{language}.pdf")
    plan = await planner.create_interview(resume_id, language=language, question_count=QUESTIONS)  # type: ignore[arg-type]
    return plan, await _chunks(runtime, resume_id)


@pytest.mark.parametrize(("language", "resume"), [("ko", KO_RESUME_FORM), ("en", EN_RESUME_FULLSTACK)])
async def test_plan_by_the_bilingual_model_passes_the_checker(
    runtime: Runtime, qwen: LlamaCppLLM, language: str, resume: str
) -> None:
    plan, chunks = await _plan(runtime, qwen, resume, language)
    assert plan.language == language
    texts = [q.text for q in plan.questions]
    report = "\n".join(
        f"[{q.stage.value}] ({q.source}) {q.text} {q.rejected_reason or ''}" for q in plan.questions
    )
    for q in plan.questions:
        sources = [chunks[i] for i in q.chunk_ids]
        assert sources, report
        assert question_defects(q.text, language=language, sources=sources) == [], report
    assert not any(repeated_topics(texts, language=language)), report
    written = sum(q.source == "llm" for q in plan.questions)
    # Mostly the model's own. Issue 12's goal (80 %) is the bench's figure over eleven resumes
    # (bench/interview_quality.py): on one plan of six it turns on one question, and greedy output
    # shifts with llama.cpp's reused prompt prefix, so 4 of 6 and 5 of 6 both occur (CI, 2026-12-04).
    assert written > QUESTIONS / 2, report
    assert plan.stats["llm_model"] == qwen.info.name
