"""Interview plans: per stage, retrieve resume chunks, pick the most concrete fact no earlier
question used, ask the LLM for a question about it under a JSON schema, validate it, and fall back
to a template built on the same fact."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.errors import InterviewerError, InvalidInputError, ModelTimeoutError, NotFoundError
from agent.models.base import ChatLLM, Embedder, GenerationOptions
from agent.plan.facts import Fact, fix_particles
from agent.plan.prompt import QUESTION_SCHEMA, example_questions, question_messages
from agent.plan.stages import INTENTS, Language, Stage, allocate
from agent.plan.templates import pick_fact, template_question, unwrap_lines
from agent.plan.validate import validate_question
from db import queries
from db.engine import unit_of_work
from db.models import Interview, Question, ResumeChunk

log = logging.getLogger(__name__)


class _LLMQuestion(BaseModel):
    question: str = Field(min_length=1, max_length=400)


@dataclass(frozen=True, slots=True)
class PlanOptions:
    top_k: int = 3
    use_llm: bool = True
    max_tokens: int = 96
    """A Korean question of 80 characters is ~60 tokens with its JSON; a cut one fails to parse."""
    llm_tries: int = 2
    """LLM calls per question before the template: a second, warmer sample rescues most rejects."""
    llm_languages: frozenset[str] = frozenset({"en", "ko"})
    """Languages the LLM writes well (the bilingual default model: both). SmolLM2 writes no usable
    Korean: with it, set ``{"en"}`` and Korean plans go straight to the templates."""

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError("top_k must be at least 1")
        if self.llm_tries < 1:
            raise ValueError("llm_tries must be at least 1")


@dataclass(frozen=True, slots=True)
class PlannedQuestion:
    ord: int
    stage: Stage
    text: str
    source: str
    chunk_ids: list[str]
    rejected_reason: str | None


@dataclass(frozen=True, slots=True)
class PlanResult:
    interview_id: uuid.UUID
    language: Language
    target_role: str | None
    questions: list[PlannedQuestion]
    stats: dict[str, Any] = field(default_factory=dict)


class InterviewPlanner:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        embedder: Embedder,
        llm: ChatLLM | None,
        options: PlanOptions = PlanOptions(),
    ) -> None:
        self._sessions = sessions
        self._embedder = embedder
        self._llm = llm if options.use_llm else None
        self._options = options

    async def create_interview(
        self,
        resume_id: uuid.UUID,
        *,
        language: Language | None,
        question_count: int,
        max_questions: int = 20,
        follow_ups: bool = True,
    ) -> PlanResult:
        if not 1 <= question_count <= max_questions:
            raise InvalidInputError(f"question_count must be between 1 and {max_questions}")
        started = time.perf_counter()
        async with unit_of_work(self._sessions) as session:
            resume = await queries.get_resume(session, resume_id)
            if resume is None:
                raise NotFoundError(f"resume {resume_id} not found")
            lang: Language = language or ("ko" if resume.language == "ko" else "en")
            role = resume.target_role
            header = resume.parsed.get("header") or {}
            name = header.get("name")
            skills = [str(s) for s in header.get("skills") or []]
        questions: list[PlannedQuestion] = []
        used: list[uuid.UUID] = []
        variants: dict[Stage, int] = {}
        used_facts: list[str] = []
        used_terms: list[str] = []
        llm_attempts = llm_valid = 0
        llm_timed_out = False
        for ordinal, stage in enumerate(allocate(question_count)):
            chunks = await self._retrieve(resume_id, stage, lang, used)
            used.extend(c.id for c in chunks)
            fact, chunks = await self._choose_fact(
                resume_id, stage, lang, chunks, used_facts, role=role, name=name, skills=skills
            )
            earlier = [q.text for q in questions]
            text, reason = None, None
            use_llm = self._llm is not None and lang in self._options.llm_languages
            if use_llm and fact is not None and not llm_timed_out:
                llm_attempts += 1
                sources = [fact.line, *(c.text for c in chunks)]
                try:
                    text, reason = await self._llm_question(stage, lang, role, fact, sources, earlier)
                except ModelTimeoutError as exc:
                    # The timed-out call still runs on the model's one thread and every later call
                    # would queue behind it and time out too: the rest of this plan uses templates.
                    log.warning("LLM timed out while planning; templates for the rest: %s", exc)
                    llm_timed_out = True
                    reason = f"model error: {exc}"
                llm_valid += text is not None
            source = "llm"
            if text is None:
                source = "template"
                variant = variants.get(stage, 0)
                variants[stage] = variant + 1
                text = template_question(stage, lang, fact, role, variant, used_terms=used_terms)
            if fact is not None:
                used_facts.append(fact.line)
                phrase = fact.phrase(lang)
                if phrase:
                    used_facts.append(phrase)
                used_terms.extend(t for t in fact.terms if t.casefold() in text.casefold())
            questions.append(
                PlannedQuestion(ordinal, stage, text, source, [str(c.id) for c in chunks], reason)
            )
        stats = {
            "llm_timed_out": llm_timed_out,
            "llm_attempts": llm_attempts,
            "llm_valid": llm_valid,
            "grounded": sum(bool(q.chunk_ids) for q in questions),
            "plan_s": round(time.perf_counter() - started, 3),
            "llm_model": self._llm.info.name if self._llm else None,
            "embedding_model": self._embedder.info.name,
        }
        interview_id = uuid.uuid4()
        async with unit_of_work(self._sessions) as session:
            session.add(
                Interview(
                    id=interview_id,
                    resume_id=resume_id,
                    state="planned",
                    language=lang,
                    target_role=role,
                    question_count=question_count,
                    current_question=0,
                    followup_used=False,
                    follow_ups=follow_ups,
                    plan_stats=stats,
                )
            )
            await session.flush()
            session.add_all(
                Question(
                    interview_id=interview_id,
                    ord=q.ord,
                    stage=q.stage.value,
                    text=q.text,
                    source=q.source,
                    chunk_ids=q.chunk_ids,
                    rejected_reason=q.rejected_reason,
                )
                for q in questions
            )
        return PlanResult(interview_id, lang, role, questions, stats)

    async def _choose_fact(
        self,
        resume_id: uuid.UUID,
        stage: Stage,
        lang: Language,
        chunks: list[ResumeChunk],
        used_facts: list[str],
        *,
        role: str | None,
        name: str | None,
        skills: list[str],
    ) -> tuple[Fact | None, list[ResumeChunk]]:
        """The fact a question of ``stage`` is built on (one no earlier question used), and the
        chunks it cites."""
        avoid = [x for x in (role, name) if x]  # a bare name or title is nothing to ask about

        def pick(texts: list[str], used: list[str]) -> Fact | None:
            return pick_fact(texts, language=lang, used=used, avoid=avoid, known=skills)

        fact = pick([c.text for c in chunks], used_facts)
        if fact is None:
            # The closest chunks are spent or thin: look wider in the same resume.
            wider = await self._retrieve(resume_id, stage, lang, [], k=self._options.top_k * 4)
            fact = pick([c.text for c in wider], used_facts)
            if fact is None:
                # A short resume runs out of facts: reuse one, just not the last two asked about (each
                # left a line and a phrase in used_facts).
                fact = pick([c.text for c in wider], used_facts[-4:])
            if fact is not None:
                line = fact.line
                chunks = [c for c in wider if line in unwrap_lines(c.text)] or chunks
        return fact, chunks

    async def _retrieve(
        self, resume_id: uuid.UUID, stage: Stage, lang: Language, used: list[uuid.UUID], k: int | None = None
    ) -> list[ResumeChunk]:
        vector = await self._embedder.embed_one(INTENTS[stage].query[lang], "query")
        async with unit_of_work(self._sessions) as session:
            # Prefer chunks no earlier question used, so two questions of a stage differ.
            rows = await queries.nearest_chunks(
                session,
                resume_id,
                vector.tolist(),
                k=k or self._options.top_k,
                embedding_model=self._embedder.info.name,
                exclude=used,
            )
            if not rows:
                rows = await queries.nearest_chunks(
                    session,
                    resume_id,
                    vector.tolist(),
                    k=k or self._options.top_k,
                    embedding_model=self._embedder.info.name,
                )
        return [chunk for chunk, _ in rows]

    async def _llm_question(
        self,
        stage: Stage,
        lang: Language,
        role: str | None,
        fact: Fact,
        sources: list[str],
        earlier: list[str],
    ) -> tuple[str | None, str | None]:
        """A generated question about ``fact``, or None and why each try was rejected."""
        assert self._llm is not None
        messages = question_messages(stage, lang, fact.line, role)
        reasons: list[str] = []
        for attempt in range(self._options.llm_tries):
            # The first try is near-greedy; a retry samples wider rather than repeating the reject.
            options = GenerationOptions(
                max_tokens=self._options.max_tokens, temperature=0.2 + 0.5 * attempt, seed=attempt
            )
            try:
                completion = await self._llm.complete(messages, schema=QUESTION_SCHEMA, options=options)
                question = _LLMQuestion.model_validate(json.loads(completion.text)).question.strip()
            except ModelTimeoutError:
                raise
            except (InterviewerError, ValidationError, json.JSONDecodeError) as exc:
                log.info("LLM question for %s unusable: %s", stage, exc)
                reasons.append(f"model error: {exc}")
                continue
            if lang == "ko":
                # The model picks 을/를 by spelling; Korean picks it by how the word is read.
                question = fix_particles(question)
            verdict = validate_question(
                question,
                language=lang,
                sources=sources,
                earlier=[*earlier, *example_questions(lang)],
                paraphrase=True,
                role=role,
            )
            if verdict.ok:
                return question, None
            log.debug("rejected LLM question %r: %s", question, verdict.reason)
            reasons.append(f"{verdict.reason}: {question}")
        return None, " | ".join(reasons)[:500]
