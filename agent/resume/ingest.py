"""Resume ingest: bytes -> text -> header + chunks -> embeddings -> Postgres (one unit of work)."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.models.base import ChatLLM, Embedder
from agent.resume.chunking import chunk_resume, split_sections
from agent.resume.extract import ExtractLimits, detect_language, extract_text
from agent.resume.header import extract_header
from agent.resume.schema import FieldSource, ParsedResume, ResumeHeader, SectionInfo
from db.engine import unit_of_work
from db.models import Resume, ResumeChunk

MAX_CLIENT_ROLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class IngestOptions:
    limits: ExtractLimits = field(default_factory=ExtractLimits)
    chunk_chars: int = 600
    overlap_chars: int = 80
    llm_languages: frozenset[str] = frozenset({"en"})
    """Resume languages the LLM reads well enough to fill header gaps (see PlanOptions)."""

    def __post_init__(self) -> None:
        if not 0 <= self.overlap_chars < self.chunk_chars:
            raise ValueError("overlap_chars must be within [0, chunk_chars)")


@dataclass(frozen=True, slots=True)
class IngestResult:
    resume_id: uuid.UUID
    filename: str
    pages: int
    parsed: ParsedResume
    target_role: str | None
    target_role_source: str
    chunk_count: int
    timings_s: dict[str, float]


def choose_target_role(
    header: ResumeHeader, sources: dict[str, FieldSource], client_role: str | None
) -> tuple[ResumeHeader, str]:
    """The resume's role is the source of truth; the client's only fills a gap (predecessor lesson 7)."""
    if header.target_role:
        return header, "resume"
    role = (client_role or "").strip()[:MAX_CLIENT_ROLE_CHARS]
    if role:
        sources["target_role"] = "client"
        return header.model_copy(update={"target_role": role}), "client"
    return header, "none"


class ResumeIngestor:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        embedder: Embedder,
        llm: ChatLLM | None,
        options: IngestOptions = IngestOptions(),
    ) -> None:
        self._sessions = sessions
        self._embedder = embedder
        self._llm = llm
        self._options = options

    async def ingest(
        self, data: bytes, filename: str, content_type: str | None, client_role: str | None = None
    ) -> IngestResult:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        # pypdf and python-docx are blocking and CPU-bound: keep them off the event loop.
        doc = await asyncio.to_thread(extract_text, data, filename, content_type, self._options.limits)
        language = detect_language(doc.text)
        sections = split_sections(doc.text)
        timings["extract"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        llm = self._llm if language in self._options.llm_languages else None
        header, sources = await extract_header(doc.text, sections, llm)
        header, role_source = choose_target_role(header, sources, client_role)
        timings["header"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        chunks = chunk_resume(
            doc.text, max_chars=self._options.chunk_chars, overlap_chars=self._options.overlap_chars
        )
        vectors = await self._embedder.embed([c.text for c in chunks], "passage")
        timings["embed"] = time.perf_counter() - t2

        parsed = ParsedResume(
            language=language,
            header=header,
            sections=[SectionInfo(name=name, chars=len(body)) for name, body in sections],
            sources=sources,
        )
        t3 = time.perf_counter()
        resume_id = uuid.uuid4()
        async with unit_of_work(self._sessions) as session:
            session.add(
                Resume(
                    id=resume_id,
                    filename=filename[:255],
                    content_type=doc.content_type,
                    sha256=hashlib.sha256(data).hexdigest(),
                    size_bytes=len(data),
                    pages=doc.pages,
                    language=language,
                    text=doc.text,
                    parsed=parsed.model_dump(mode="json"),
                    target_role=header.target_role,
                    target_role_source=role_source,
                )
            )
            # The chunks reference the resume: flush it first so the insert order is explicit.
            await session.flush()
            model_name = self._embedder.info.name
            session.add_all(
                ResumeChunk(
                    resume_id=resume_id,
                    ord=chunk.ord,
                    section=chunk.section,
                    text=chunk.text,
                    embedding=vector.tolist(),
                    embedding_model=model_name,
                )
                for chunk, vector in zip(chunks, vectors, strict=True)
            )
        timings["store"] = time.perf_counter() - t3
        timings["total"] = time.perf_counter() - t0
        return IngestResult(
            resume_id=resume_id,
            filename=filename,
            pages=doc.pages,
            parsed=parsed,
            target_role=header.target_role,
            target_role_source=role_source,
            chunk_count=len(chunks),
            timings_s=timings,
        )
