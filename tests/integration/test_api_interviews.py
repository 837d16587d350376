"""Interview plans through the real API: retrieval from pgvector, the real LLM, validation, fallback."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from db.engine import unit_of_work
from db.models import ResumeChunk
from signaling.runtime import Runtime
from tests.resume_factory import EN_RESUME, KO_RESUME, pdf_bytes

pytestmark = pytest.mark.integration

STAGE_ORDER = ["intro", "experience", "technical", "collaboration", "closing"]


async def _resume(client: httpx.AsyncClient, text_: str) -> str:
    resp = await client.post("/api/resumes", files={"file": ("r.pdf", pdf_bytes(text_), "application/pdf")})
    assert resp.status_code == 201, resp.text
    rid: str = resp.json()["id"]
    return rid


async def _plan(client: httpx.AsyncClient, resume_id: str, **kw: Any) -> dict[str, Any]:
    resp = await client.post("/api/interviews", json={"resume_id": resume_id, **kw})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_plan_is_grounded_staged_and_stored(
    client: httpx.AsyncClient, reviewer: httpx.AsyncClient, runtime: Runtime
) -> None:
    resume_id = await _resume(client, EN_RESUME)
    plan = await _plan(client, resume_id, question_count=8)
    questions = plan["questions"]
    assert len(questions) == 8
    assert plan["target_role"] == "Backend Engineer"
    assert plan["language"] == "en"
    stages = [q["stage"] for q in questions]
    assert stages == sorted(stages, key=STAGE_ORDER.index)
    assert set(stages) == set(STAGE_ORDER)
    assert len({q["text"] for q in questions}) == 8
    async with unit_of_work(runtime.sessions) as session:
        own = set(
            str(i)
            for i in await session.scalars(
                select(ResumeChunk.id).where(ResumeChunk.resume_id == uuid.UUID(resume_id))
            )
        )
    for q in questions:
        assert q["chunk_ids"], q
        assert set(q["chunk_ids"]) <= own
        assert q["source"] in ("llm", "template")
        assert q["text"].endswith("?")
    stats = plan["plan_stats"]
    assert stats["llm_attempts"] == 8
    assert stats["grounded"] == 8
    # An interviewer reads the stored plan back whole; the candidate's token shows the current
    # question only (the rest of the plan is not theirs to read ahead).
    stored = {k: v for k, v in plan.items() if k != "join_token"}
    whole = await reviewer.get(f"/api/interviews/{plan['id']}")
    assert whole.status_code == 200
    assert whole.json() == stored
    fetched = await client.get(f"/api/interviews/{plan['id']}", params={"token": plan["join_token"]})
    assert fetched.status_code == 200
    assert fetched.json() == {**stored, "questions": questions[:1], "plan_stats": {}}
    # The plan is the candidate's own (join token) or an interviewer's; nobody else's.
    assert (await client.get(f"/api/interviews/{plan['id']}")).status_code == 401
    other = await _plan(client, resume_id, question_count=1)
    stolen = await client.get(f"/api/interviews/{plan['id']}", params={"token": other["join_token"]})
    assert stolen.status_code == 401


async def test_korean_plan_is_in_korean(client: httpx.AsyncClient) -> None:
    resume_id = await _resume(client, KO_RESUME)
    plan = await _plan(client, resume_id, question_count=5)
    assert plan["language"] == "ko"
    assert plan["plan_stats"]["llm_attempts"] == 0  # the shipped LLM writes English only
    for q in plan["questions"]:
        hangul = sum("가" <= ch <= "힣" for ch in q["text"])
        assert hangul >= 10, q["text"]


async def test_language_can_be_chosen(client: httpx.AsyncClient) -> None:
    resume_id = await _resume(client, KO_RESUME)
    plan = await _plan(client, resume_id, question_count=3, language="en")
    assert plan["language"] == "en"
    assert all(q["text"].endswith("?") for q in plan["questions"])


@pytest.mark.parametrize("count", [0, 21, 51])
async def test_question_count_limits(client: httpx.AsyncClient, count: int) -> None:
    resume_id = await _resume(client, EN_RESUME)
    resp = await client.post("/api/interviews", json={"resume_id": resume_id, "question_count": count})
    assert resp.status_code == 422
    assert "question_count" in resp.json()["error"]["message"]


async def test_unknown_resume_or_interview_is_404(
    client: httpx.AsyncClient, reviewer: httpx.AsyncClient
) -> None:
    resp = await client.post("/api/interviews", json={"resume_id": str(uuid.uuid4()), "question_count": 3})
    assert resp.status_code == 404
    assert (await reviewer.get(f"/api/interviews/{uuid.uuid4()}")).status_code == 404


async def test_200_concurrent_requests_leave_no_transaction_open(
    client: httpx.AsyncClient, reviewer: httpx.AsyncClient, runtime: Runtime
) -> None:
    resume_id = await _resume(client, EN_RESUME)
    plan = await _plan(client, resume_id, question_count=2)
    calls = []
    for i in range(200):
        match i % 5:
            case 0:
                calls.append(reviewer.get(f"/api/resumes/{resume_id}"))
            case 1:
                calls.append(reviewer.get(f"/api/interviews/{plan['id']}"))
            case 2:
                calls.append(client.get("/api/health"))
            case 3:
                calls.append(reviewer.get(f"/api/interviews/{uuid.uuid4()}"))  # an error path too
            case _:
                calls.append(reviewer.get(f"/api/resumes/{uuid.uuid4()}"))
    responses = await asyncio.gather(*calls)
    assert sorted({r.status_code for r in responses}) == [200, 404], [r.text for r in responses][:3]
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT pid, state, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        ).all()
    idle_in_tx = [r for r in rows if r.state and r.state.startswith("idle in transaction")]
    assert idle_in_tx == []
    log_path = runtime.settings.data_dir / "postgres" / "log"
    if runtime.settings.database_url is None:
        assert "there is already a transaction in progress" not in log_path.read_text(errors="replace")


async def test_openapi_schema(client: httpx.AsyncClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    assert {"/api/resumes", "/api/interviews", "/api/interviews/{interview_id}"} <= set(paths)
