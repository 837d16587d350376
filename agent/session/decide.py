"""After each answer: at most one follow-up, else the next planned question, else the close.

A deterministic rule decides from measurable features of the answer (length, hedging, concrete
details, the candidate's own role). The tiny LLM may refine an unclear case under a JSON schema when
its verdict is ready in time; its follow-up is used only if it passes validation, else a template is.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.errors import InterviewerError
from agent.models.base import ChatLLM, ChatMessage, GenerationOptions
from agent.plan.stages import Language
from agent.plan.validate import content_terms
from agent.session import script
from agent.session.cues import SHORT_WORDS
from agent.session.script import FollowUpReason
from agent.session.state import DecisionKind, InterviewPlan, InterviewState, PlanQuestion

log = logging.getLogger(__name__)

Source = Literal["rule", "llm", "template"]
_REASONS: tuple[FollowUpReason, ...] = ("unknown", "short", "role", "result", "vague")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    text: str
    """What the interviewer says next."""
    reason: str = ""
    source: Source = "rule"


@dataclass(frozen=True, slots=True)
class Thresholds:
    short_words: int
    """Fewer words than this is too short to judge: ask for more."""
    long_words: int
    """At least this many words counts as a substantive answer even without markers."""


THRESHOLDS: dict[Language, Thresholds] = {
    # Korean words (eojeol) carry about 1.5 English words each.
    "en": Thresholds(short_words=SHORT_WORDS["en"], long_words=45),
    "ko": Thresholds(short_words=SHORT_WORDS["ko"], long_words=30),
}

_UNKNOWN = {
    "en": re.compile(
        r"\b(i don'?t know|not sure|no idea|i don'?t remember|can'?t remember|i have no experience|"
        r"never done that|pass)\b",
        re.IGNORECASE,
    ),
    "ko": re.compile(r"(모르겠|잘 모르|기억이 (잘 )?안|기억나지 않|경험이 없|해 본 적이 없)"),
}
_CONCRETE = {
    "en": re.compile(
        r"\d|%|\b(percent|for example|for instance|such as|specifically|in particular|measured|"
        r"reduced|increased|improved|cut|saved|built|designed|implemented|deployed|migrated|wrote|"
        r"launched|shipped|led|mentored|result(ed)?|outcome|because)\b",
        re.IGNORECASE,
    ),
    "ko": re.compile(
        r"\d|%|(예를 들어|예를 들면|구체적으로|결과|성과|개선|구축|개발|설계|구현|도입|줄였|늘렸|단축|절감|"
        r"배포|이전|때문)"
    ),
}
_TEAM = {
    "en": re.compile(r"\b(we|our|us|the team)\b", re.IGNORECASE),
    "ko": re.compile(r"(우리|저희|팀)"),
}
_SELF = {
    "en": re.compile(r"\b(i|my|me|myself|i'm|i've|i'd)\b", re.IGNORECASE),
    "ko": re.compile(r"(제가|저는|제 |나는|내가|직접)"),
}


def word_count(text: str) -> int:
    return len(text.split())


def followup_reason(answer: str, language: Language) -> FollowUpReason | None:
    """Why the answer needs a follow-up, or None when it answers well enough."""
    text = answer.strip()
    limits = THRESHOLDS[language]
    words = word_count(text)
    if _UNKNOWN[language].search(text) and words < limits.long_words:
        return "unknown"
    if words < limits.short_words:
        return "short"
    if words >= limits.long_words:
        return None
    if _TEAM[language].search(text) and not _SELF[language].search(text):
        return "role"
    if not _CONCRETE[language].search(text):
        return "vague"
    return None


def decide_next(
    answer_text: str,
    question: PlanQuestion,
    followup_used: bool,
    *,
    next_question: PlanQuestion | None,
    language: Language,
) -> Decision:
    """The deterministic decision (no model): at most one follow-up per planned question."""
    if not followup_used:
        reason = followup_reason(answer_text, language)
        if reason is not None:
            return Decision("follow_up", script.FOLLOW_UPS[language][reason], reason)
    if next_question is None:
        return Decision("close", script.closing(language), "last question answered")
    return Decision("next", script.next_question(next_question, language), "answered")


DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["follow_up", "next"]},
        "follow_up": {"type": "string", "maxLength": 200},
    },
    "required": ["decision", "follow_up"],
}

_LLM_SYSTEM = (
    "You are a job interviewer. Decide whether the candidate's answer needs one follow-up question. "
    "Ask a follow-up only if the answer is vague, lacks a concrete example, or does not say what the "
    "candidate did personally or what the result was. The follow-up must be one short question about "
    'the answer. Reply with JSON only: {"decision": "follow_up" or "next", "follow_up": "..."}'
)


class _LLMDecision(BaseModel):
    decision: Literal["follow_up", "next"]
    follow_up: str = Field(default="", max_length=400)


def valid_followup(text: str, *, question: str, answer: str) -> bool:
    """A follow-up fit to be said: an English question about the answer, not the prompt echoed."""
    q = text.strip()
    if not 15 <= len(q) <= 200 or not q.endswith("?") or q.count("?") > 1:
        return False
    lowered = q.casefold()
    if any(marker in lowered for marker in ("json", "follow_up", "candidate", "interviewer")):
        return False
    if re.search(r"[가-힣]", q):
        return False
    if q.casefold() == question.strip().casefold():
        return False
    # Grounded: it picks up something the candidate said (or the question's own topic).
    return bool(content_terms(q) & (content_terms(answer) | content_terms(question)))


def similar(guess: str, final: str, threshold: float = 0.8) -> bool:
    """Whether a judgement of ``guess`` (the answer heard so far) still holds for ``final``."""
    a, b = _WORDS.findall(guess.casefold()), _WORDS.findall(final.casefold())
    if not b:
        return not a
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold


@dataclass(slots=True)
class _Guess:
    answer: str
    question_index: int
    followup_used: bool
    task: asyncio.Task[_LLMDecision | None]


class Decider:
    """The rule, refined by the LLM on unclear answers when there is one and its verdict is ready.

    The tiny LLM takes over a second here, as long as the final transcript itself; on the critical
    path it would double the wait for the next question. So its judgement starts at the candidate's
    pause, on the answer heard so far (:meth:`speculate`), and runs beside the final transcription;
    :meth:`decide` uses it if it judged nearly the same words and is ready within ``wait_s``, and
    otherwise keeps the rule. One model call at a time: llama.cpp cannot cancel one.
    """

    def __init__(
        self,
        llm: ChatLLM | None,
        *,
        wait_s: float = 0.3,
        llm_languages: frozenset[str] = frozenset({"en"}),
        max_tokens: int = 60,
        similarity: float = 0.8,
        follow_ups: bool = True,
    ) -> None:
        if wait_s < 0:
            raise ValueError("wait_s must not be negative")
        self._llm = llm
        self._wait_s = wait_s
        self._llm_languages = llm_languages
        self._max_tokens = max_tokens
        self._similarity = similarity
        self._guess: _Guess | None = None
        self._follow_ups = follow_ups
        self.llm_calls = 0

    def speculate(self, answer: str, state: InterviewState, plan: InterviewPlan) -> bool:
        """Start the LLM's judgement of the answer so far; False when not worth it or the model is
        still busy with an earlier guess."""
        question = plan.question(state.question_index)
        if question is None or not self._worth_asking(answer, state, plan):
            return False
        if self._guess is not None and not self._guess.task.done():
            return False
        if (
            self._guess is not None
            and (self._guess.question_index, self._guess.followup_used)
            == (state.question_index, state.followup_used)
            and self._guess.answer == answer
        ):
            return True  # already judged these very words
        task = asyncio.create_task(self._ask_llm(question.text, answer), name="decision-llm")
        self.llm_calls += 1
        self._guess = _Guess(answer, state.question_index, state.followup_used, task)
        return True

    async def decide(self, answer: str, state: InterviewState, plan: InterviewPlan) -> Decision:
        question = plan.question(state.question_index)
        if question is None:
            return Decision("close", script.closing(plan.language), "no question left")
        upcoming = plan.question(state.question_index + 1)
        # With follow-ups off every question counts as already followed up: a scripted run (the
        # recorded-answer harness) then knows exactly how many answers the interview takes.
        followup_used = state.followup_used or not self._follow_ups
        rule = decide_next(answer, question, followup_used, next_question=upcoming, language=plan.language)
        if not self._follow_ups or not self._worth_asking(answer, state, plan):
            return rule
        guess = self._guess
        usable = (
            guess is not None
            and (guess.question_index, guess.followup_used) == (state.question_index, state.followup_used)
            and similar(guess.answer, answer, self._similarity)
        )
        if not usable:
            if not self.speculate(answer, state, plan):
                return rule  # the model is busy with a guess at other words
            guess = self._guess
        assert guess is not None
        try:
            verdict = await asyncio.wait_for(asyncio.shield(guess.task), self._wait_s)
        except TimeoutError:
            log.info("decision LLM not ready within %.2f s; using the rule", self._wait_s)
            return rule
        if verdict is None:
            return rule
        if verdict.decision == "next":
            if upcoming is None:
                return Decision("close", script.closing(plan.language), "llm: answered", "llm")
            return Decision("next", script.next_question(upcoming, plan.language), "llm: answered", "llm")
        follow_up = verdict.follow_up.strip()
        if valid_followup(follow_up, question=question.text, answer=answer):
            return Decision("follow_up", follow_up, "llm: follow-up", "llm")
        # The model wants a follow-up but wrote an unusable one: the rule's template, or, when the
        # rule found the answer adequate, the question about its outcome.
        reason: FollowUpReason = next((r for r in _REASONS if r == rule.reason), "result")
        return Decision("follow_up", script.FOLLOW_UPS[plan.language][reason], f"llm: {reason}", "template")

    async def aclose(self) -> None:
        if self._guess is not None and not self._guess.task.done():
            self._guess.task.cancel()
            await asyncio.gather(self._guess.task, return_exceptions=True)

    def _worth_asking(self, answer: str, state: InterviewState, plan: InterviewPlan) -> bool:
        language = plan.language
        if not self._follow_ups or self._llm is None or language not in self._llm_languages:
            return False  # with follow-ups off a guess could change nothing, and would cost CPU
        if state.followup_used:
            return False
        # Clear cases need no model: nothing said, a hedge, or a long answer the rule accepts.
        return followup_reason(answer, language) not in ("short", "unknown") and (
            word_count(answer) < THRESHOLDS[language].long_words
        )

    async def _ask_llm(self, question: str, answer: str) -> _LLMDecision | None:
        assert self._llm is not None
        # Only the system prompt and one user message: with the whole history the tiny model repeats
        # its earlier replies.
        messages = [
            ChatMessage("system", _LLM_SYSTEM),
            ChatMessage("user", f"Question: {question}\nAnswer: {answer.strip()[:1200]}"),
        ]
        started = time.perf_counter()
        try:
            completion = await self._llm.complete(
                messages,
                schema=DECISION_SCHEMA,
                options=GenerationOptions(max_tokens=self._max_tokens, temperature=0.0),
            )
            verdict = _LLMDecision.model_validate(json.loads(completion.text))
        except (InterviewerError, ValidationError, json.JSONDecodeError) as exc:
            log.info("decision LLM unusable (%s); using the rule", exc)
            return None
        log.info("decision LLM: %s in %.2f s", verdict.decision, time.perf_counter() - started)
        return verdict
