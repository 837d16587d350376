"""Interviews written straight to Postgres, for tests of calls and access that need an interview but
not the resume pipeline (its chunks carry pgvector embeddings; the pipeline has its own tests)."""

from __future__ import annotations

import hashlib
import uuid

from db.engine import unit_of_work
from db.models import Interview, Question, Resume
from signaling.runtime import Runtime

QUESTIONS = (
    ("intro", "Could you introduce yourself and the work you do now?"),
    ("experience", "What was the hardest service you moved to Kubernetes, and why?"),
    ("technical", "How would you find the cause of a slow Postgres query?"),
)


def resume_row(
    resume_id: uuid.UUID,
    text: str,
    *,
    language: str = "en",
    parsed: dict[str, object] | None = None,
    filename: str = "jane.txt",
) -> Resume:
    """A stored plain-text resume with no chunks (and so no embeddings)."""
    return Resume(
        id=resume_id,
        filename=filename,
        content_type="text/plain",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        size_bytes=len(text.encode()),
        pages=1,
        language=language,
        text=text,
        parsed=parsed or {},
        target_role="Backend Engineer",
        target_role_source="resume",
    )


async def make_interview(
    runtime: Runtime, *, questions: tuple[tuple[str, str], ...] = QUESTIONS, follow_ups: bool = False
) -> tuple[uuid.UUID, str]:
    """A planned English interview with ``questions``; returns its id and a join token."""
    resume_id, interview_id = uuid.uuid4(), uuid.uuid4()
    text = "Jane Park\nBackend Engineer\n"
    async with unit_of_work(runtime.sessions) as session:
        session.add(resume_row(resume_id, text))
        await session.flush()
        session.add(
            Interview(
                id=interview_id,
                resume_id=resume_id,
                state="planned",
                language="en",
                target_role="Backend Engineer",
                question_count=len(questions),
                follow_ups=follow_ups,
                plan_stats={},
            )
        )
        await session.flush()
        for ord_, (stage, question) in enumerate(questions):
            session.add(
                Question(interview_id=interview_id, ord=ord_, stage=stage, text=question, source="template")
            )
    token = runtime.tokens.issue(interview_id, ttl_s=600)
    return interview_id, token
