"""Pre-synthesis: the moment a plan exists, everything its interview will say is synthesized in the
background, through the same shared cache a live call reads, so the first question plays the moment
the candidate joins and no later question waits for the model.

One worker per process, one utterance at a time, at background priority on the voice's thread: a
live call's sentence always overtakes it, and many plans created at once queue up instead of
flooding the model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.models.base import TextToSpeech
from agent.plan.planner import PlanResult
from agent.session import script
from agent.session.speech import SpeechLibrary
from agent.session.state import InterviewPlan, InterviewState, PlanQuestion
from agent.tasks import cancel_and_wait
from agent.tts_cache import SharedSpeechCache

log = logging.getLogger(__name__)


def plan_of(result: PlanResult) -> InterviewPlan:
    """The session's view of a plan just created (as a call will load it from the database)."""
    questions = tuple(PlanQuestion(q.ord, q.stage, q.text) for q in result.questions)
    return InterviewPlan(result.language, questions, target_role=result.target_role)


def planned_utterances(plan: InterviewPlan) -> list[str]:
    """What a fresh interview of ``plan`` says, most urgent first: the opening (greeting and first
    question) is what the candidate hears on joining."""
    language = plan.language
    texts = [
        script.opening(plan, InterviewState()),
        *script.ACKNOWLEDGEMENTS[language],
        *(script.next_question(q, language) for q in plan.questions[1:]),
        *script.fixed_utterances(language),
    ]
    return list(dict.fromkeys(t for t in texts if t.strip()))


class Presynthesizer:
    def __init__(
        self, tts: Callable[[], TextToSpeech], cache: SharedSpeechCache, *, max_queued: int = 2000
    ) -> None:
        """``tts`` is called on first use: the voices may still be loading when the app starts."""
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self._tts = tts
        self._cache = cache
        self._library: SpeechLibrary | None = None
        self._queue: asyncio.Queue[str] = asyncio.Queue(max_queued)
        self._task: asyncio.Task[None] | None = None
        self.completed = 0
        self.failed = 0

    def submit(self, plan: InterviewPlan) -> int:
        """Queue the plan's utterances; returns how many were queued (a full queue drops the rest,
        which then are synthesized when first said)."""
        texts = planned_utterances(plan)
        queued = 0
        for text in texts:
            try:
                self._queue.put_nowait(text)
            except asyncio.QueueFull:
                log.warning("pre-synthesis queue full; %d lines left to the live call", len(texts) - queued)
                break
            queued += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._work(), name="presynthesis")
        return queued

    async def join(self) -> None:
        """Until everything queued so far is cached (or failed)."""
        await self._queue.join()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _work(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                if self._library is None:
                    self._library = SpeechLibrary(self._tts(), self._cache, urgent=False)
                await self._library.get(text)
                self.completed += 1
            except Exception as exc:  # one bad line must not stop the others
                self.failed += 1
                log.warning("pre-synthesis of %r failed: %s", text[:40], exc)
            finally:
                self._queue.task_done()
