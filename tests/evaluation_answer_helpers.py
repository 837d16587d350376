"""An interview for the answer-grouping tests without resume chunks: only the answers are under test,
and no embedding index is written (pgvector's HNSW insert dies with SIGILL on some CPUs with the
wheel's build, which is no concern of these tests)."""

from __future__ import annotations

import uuid

from db.engine import unit_of_work
from db.models import Interview, Question
from signaling.runtime import Runtime
from tests.interview_rows import resume_row
from tests.resume_factory import EN_RESUME, KO_RESUME


async def plain_interview(
    runtime: Runtime, language: str, questions: list[str]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A live interview over a stored resume (text only) with these planned questions."""
    text = KO_RESUME if language == "ko" else EN_RESUME
    resume_id, interview_id = uuid.uuid4(), uuid.uuid4()
    question_ids = [uuid.uuid4() for _ in questions]
    async with unit_of_work(runtime.sessions) as session:
        session.add(
            resume_row(
                resume_id,
                text,
                language=language,
                parsed={"header": {"name": "Jane Park" if language == "en" else "박지은"}},
                filename="resume.txt",
            )
        )
        await session.flush()
        session.add(
            Interview(
                id=interview_id,
                resume_id=resume_id,
                state="live",
                language=language,
                target_role="Backend Engineer",
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
