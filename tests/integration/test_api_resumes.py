"""Resume upload through the real API: embedded Postgres + pgvector, Redis, real models."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select

from db.engine import unit_of_work
from db.models import ResumeChunk
from signaling.runtime import Runtime
from tests.fixtures_paths import shared_fixture
from tests.resume_factory import (
    EN_RESUME,
    EN_RESUME_NO_ROLE,
    KO_RESUME,
    blank_pdf,
    docx_bytes,
    docx_with_padding,
    encrypted_pdf,
    pdf_bytes,
)

pytestmark = pytest.mark.integration


async def upload(
    client: httpx.AsyncClient, name: str, data: bytes, ctype: str, role: str | None = None
) -> httpx.Response:
    form = {"target_role": role} if role is not None else None
    return await client.post("/api/resumes", files={"file": (name, data, ctype)}, data=form)


async def test_pdf_resume_parsed_and_chunks_embedded(
    client: httpx.AsyncClient, reviewer: httpx.AsyncClient, runtime: Runtime
) -> None:
    resp = await upload(client, "jane.pdf", pdf_bytes(EN_RESUME), "application/pdf")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    header = body["parsed"]["header"]
    assert header["name"] == "Jane Park"
    assert header["email"] == "jane.park@example.com"
    assert body["target_role"] == "Backend Engineer"
    assert body["target_role_source"] == "resume"
    assert "Kubernetes" in header["skills"]
    assert body["language"] == "en"
    assert body["chunks"] >= 3
    async with unit_of_work(runtime.sessions) as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(ResumeChunk)
            .where(ResumeChunk.resume_id == uuid.UUID(body["id"]))
        )
    assert stored == body["chunks"]
    assert (await client.get(f"/api/resumes/{body['id']}")).status_code == 401  # personal data
    again = await reviewer.get(f"/api/resumes/{body['id']}")
    assert again.status_code == 200
    assert again.json()["parsed"] == body["parsed"]


async def test_korean_docx_resume(client: httpx.AsyncClient) -> None:
    resp = await upload(
        client,
        "kim.docx",
        docx_bytes(KO_RESUME),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["language"] == "ko"
    assert body["parsed"]["header"]["name"] == "김지은"
    assert body["parsed"]["header"]["phone"] == "010-1234-5678"
    assert body["target_role"] == "백엔드 개발자"


async def test_resume_role_wins_over_client_role(client: httpx.AsyncClient) -> None:
    resp = await upload(client, "jane.txt", EN_RESUME.encode(), "text/plain", role="Sales Manager")
    assert resp.status_code == 201, resp.text
    assert resp.json()["target_role"] == "Backend Engineer"
    assert resp.json()["target_role_source"] == "resume"


async def test_client_role_used_when_resume_has_none(client: httpx.AsyncClient) -> None:
    resp = await upload(client, "sam.txt", EN_RESUME_NO_ROLE.encode(), "text/plain", role="Firmware Engineer")
    assert resp.status_code == 201, resp.text
    assert resp.json()["target_role"] == "Firmware Engineer"
    assert resp.json()["target_role_source"] == "client"
    assert resp.json()["parsed"]["sources"]["target_role"] == "client"

    none = await upload(client, "sam.txt", EN_RESUME_NO_ROLE.encode(), "text/plain")
    assert none.json()["target_role"] is None
    assert none.json()["target_role_source"] == "none"


@pytest.mark.parametrize(
    "name",
    [
        "en_resumematcher_barry_allen_fe.pdf",
        "en_resumematcher_harvey_dent_mle.pdf",
        "en_hrhelper_sample_resume_data_scientist.docx",
        "en_hrhelper_sample_resume_software_engineer.txt",
        "ko_big20_security_engineer_choi.pdf",
    ],
)
async def test_real_fixture_resumes(client: httpx.AsyncClient, name: str) -> None:
    path = shared_fixture(f"resumes/{name}")
    resp = await upload(client, name, path.read_bytes(), "application/octet-stream")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["language"] == ("ko" if name.startswith("ko_") else "en")
    assert body["chunks"] >= 1
    assert body["parsed"]["header"]["name"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("huge.pdf", lambda: b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 10), 413, "UploadTooLargeError"),
        ("photo.pdf", lambda: PNG, 415, "UnsupportedFileTypeError"),
        ("old.doc", lambda: bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 500, 415, "UnsupportedFileTypeError"),
        ("locked.pdf", lambda: encrypted_pdf(pdf_bytes(EN_RESUME), "secret"), 422, "UnreadableDocumentError"),
        ("blank.pdf", blank_pdf, 422, "UnreadableDocumentError"),
        ("cut.pdf", lambda: pdf_bytes(EN_RESUME)[:700], 422, "UnreadableDocumentError"),
        ("empty.txt", lambda: b"   \n\n  ", 422, "UnreadableDocumentError"),
        # 80 MB of zeros, ~80 KB compressed
        ("bomb.docx", lambda: docx_with_padding(docx_bytes(EN_RESUME), 80 << 20), 413, "UploadTooLargeError"),
        ("broken.docx", lambda: b"PK\x03\x04" + b"\x00" * 300, 422, "UnreadableDocumentError"),
    ],
)
async def test_bad_files_get_precise_errors(
    client: httpx.AsyncClient, name: str, make: object, status: int, code: str
) -> None:
    data = make()  # type: ignore[operator]
    resp = await upload(client, name, data, "application/octet-stream")
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["message"]


async def test_missing_file_field_is_422(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/resumes", data={"target_role": "x"})
    assert resp.status_code == 422
    assert "file" in resp.json()["error"]["message"]


async def test_unknown_resume_is_404(reviewer: httpx.AsyncClient) -> None:
    resp = await reviewer.get(f"/api/resumes/{uuid.uuid4()}")
    assert resp.status_code == 404
    bad = await reviewer.get("/api/resumes/not-a-uuid")
    assert bad.status_code == 422
