"""Resume upload and lookup."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, UploadFile

from agent.errors import NotFoundError, UploadTooLargeError
from agent.resume.schema import ParsedResume
from db import queries
from db.engine import unit_of_work
from signaling.deps import RuntimeDep
from signaling.intake import ResumeCreatorDep
from signaling.routes.auth import InterviewerDep
from signaling.schemas import ErrorOut, ResumeOut

router = APIRouter(prefix="/api/resumes", tags=["resumes"])
_READ_CHUNK = 64 * 1024


async def read_capped(upload: UploadFile, limit: int) -> bytes:
    """Read at most ``limit`` bytes; one byte more means the file is too large."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise UploadTooLargeError(f"file is larger than the {limit / 1024 / 1024:.0f} MB limit")
        parts.append(chunk)
    return b"".join(parts)


@router.post(
    "",
    status_code=201,
    response_model=ResumeOut,
    responses={
        401: {"model": ErrorOut},
        413: {"model": ErrorOut},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut},
        429: {"model": ErrorOut},
    },
    summary="Upload a resume (PDF, DOCX or plain text, Korean or English); see INTERVIEWER_INTAKE",
)
async def upload_resume(
    runtime: RuntimeDep,
    _: ResumeCreatorDep,
    file: UploadFile,
    target_role: Annotated[
        str | None, Form(max_length=200, description="Used only when the resume names no role.")
    ] = None,
) -> ResumeOut:
    data = await read_capped(file, runtime.settings.max_upload_bytes)
    result = await runtime.ingestor.ingest(data, file.filename or "resume", file.content_type, target_role)
    return ResumeOut(
        id=result.resume_id,
        filename=result.filename,
        pages=result.pages,
        language=result.parsed.language,
        target_role=result.target_role,
        target_role_source=result.target_role_source,
        parsed=result.parsed,
        chunks=result.chunk_count,
        timings_s={k: round(v, 4) for k, v in result.timings_s.items()},
    )


@router.get(
    "/{resume_id}",
    response_model=ResumeOut,
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="A parsed resume (interviewer sign-in; the uploader gets it in the upload's response)",
)
async def get_resume(runtime: RuntimeDep, _: InterviewerDep, resume_id: uuid.UUID) -> ResumeOut:
    async with unit_of_work(runtime.sessions) as session:
        resume = await queries.get_resume(session, resume_id)
        if resume is None:
            raise NotFoundError(f"resume {resume_id} not found")
        chunks = len(await queries.list_chunks(session, resume_id))
    return ResumeOut(
        id=resume.id,
        filename=resume.filename,
        pages=resume.pages,
        language=resume.language,
        target_role=resume.target_role,
        target_role_source=resume.target_role_source,
        parsed=ParsedResume.model_validate(resume.parsed),
        chunks=chunks,
    )
