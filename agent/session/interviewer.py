"""The interviewer: a livekit ``Agent`` whose replies come from the interview's structure, not from
the tiny LLM speaking freely.

``llm_node`` is overridden: after each answer :class:`Decider` picks at most one follow-up, else the
next planned question, else the close, and that text is the reply. The decision is committed to the
persisted state only once its reply has actually been heard (livekit adds the assistant message to
the history when playback ends or is cut; a reply dropped before its first frame never is), so a
reply that never played does not move the interview on. ``tts_node`` serves pre-synthesized audio
at once when it has it.

When a turn ends, and what stops the interviewer, is decided in :mod:`agent.session.turn_taking`;
this class only carries those decisions out: a line the candidate cut off by going on with the answer
is stored as interrupted, is not asked, and the decision runs again on the grown answer.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass

from livekit import rtc
from livekit.agents import llm
from livekit.agents.utils.audio import AudioByteStream
from livekit.agents.voice import Agent, ModelSettings
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    UserStateChangedEvent,
)

from agent.session import script
from agent.session.ack import Acknowledger
from agent.session.audio_io import monotonic_from_wall, pcm_frames
from agent.session.decide import Decider, Decision
from agent.session.plugins import LKSpeechToText
from agent.session.speech import SpeechLibrary
from agent.session.state import InterviewPlan, InterviewState, StateStore
from agent.session.turn_taking import TurnTaking, repeat_line, request_in, silence_prompt, stop_at_once
from agent.session.turns import TurnKind, TurnRecord, TurnTimer

log = logging.getLogger(__name__)

TurnCallback = Callable[[TurnRecord], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class _Pending:
    """The utterance produced last and not yet heard."""

    kind: TurnKind
    text: str
    decision: Decision | None = None
    decision_s: float | None = None


ASKING: frozenset[TurnKind] = frozenset({"greeting", "resume", "next", "follow_up", "repeat"})
"""Interviewer lines that put a question to the candidate: once heard, a new answer starts."""


class Interviewer(Agent):
    def __init__(
        self,
        *,
        plan: InterviewPlan,
        state: InterviewState,
        store: StateStore,
        decider: Decider,
        speech: SpeechLibrary,
        timer: TurnTimer,
        turn_taking: TurnTaking,
        on_turn: TurnCallback | None = None,
        ack: Acknowledger | None = None,
        stt: LKSpeechToText | None = None,
        prefetch_wait_s: float = 10.0,
    ) -> None:
        super().__init__(instructions=script.SYSTEM_PROMPT[plan.language])
        self.plan = plan
        self._state = state
        self._store = store
        self._decider = decider
        self._speech = speech
        self._timer = timer
        self._turns = turn_taking
        self._on_turn = on_turn
        self._ack = ack
        self._stt_plugin = stt  # not _stt: Agent keeps its own STT override there
        self._prefetch_wait_s = prefetch_wait_s
        self._pending: _Pending | None = None
        self._tts_timing: tuple[str, float, bool] | None = None
        """(text, seconds from text to first audio, served from the cache) of the latest reply."""
        self._seq = itertools.count()
        self._line_started_at: float | None = None
        """When the interviewer's current line began to play (monotonic); None before its audio."""
        self._asked_text = ""
        """The question the candidate is answering, as a repeat would say it."""
        self._last_request: str | None = None
        self._prompts = 0
        self._silence_task: asyncio.Task[None] | None = None
        self._barge_task: asyncio.Task[None] | None = None
        self._seen_user_items: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._save_lock = asyncio.Lock()
        self.closed = asyncio.Event()
        """Set once the closing line has been heard."""
        self.turns: list[TurnRecord] = []
        self.stops: list[float] = []
        """Monotonic times the interviewer stopped its own line because the candidate spoke."""

    @property
    def state(self) -> InterviewState:
        return self._state

    # --- lifecycle --------------------------------------------------------------------------------

    async def on_enter(self) -> None:
        session = self.session
        session.on("conversation_item_added", self._on_item_added)
        session.on("user_state_changed", self._on_user_state)
        session.on("agent_state_changed", self._on_agent_state)
        resuming = self._state.status == "live" or self._state.question_index > 0
        text = script.opening(self.plan, self._state)
        question = self.plan.question(self._state.question_index)
        self._asked_text = question.text if question is not None else ""
        self._turns.asked(self._asked_text)
        self._state = self._state.started()
        self._save()
        self._prefetch_upcoming()
        self._pending = _Pending("resume" if resuming else "greeting", text)
        session.say(text)

    async def on_exit(self) -> None:
        session = self.session
        session.off("conversation_item_added", self._on_item_added)
        session.off("user_state_changed", self._on_user_state)
        session.off("agent_state_changed", self._on_agent_state)

    async def aclose(self) -> None:
        """Drop a pending LLM judgement and timers; wait for state saves and turn callbacks."""
        for task in (self._silence_task, self._barge_task):
            if task is not None:
                task.cancel()
        await self._decider.aclose()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- the nodes --------------------------------------------------------------------------------

    async def on_user_turn_completed(self, turn_ctx: llm.ChatContext, new_message: llm.ChatMessage) -> None:
        self._record_user(new_message)

    async def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings
    ) -> AsyncGenerator[str, None]:
        if self._state.status == "ended":
            return
        pending = await self._reply()
        self._pending = pending
        yield pending.text

    async def _reply(self) -> _Pending:
        """What to say once the candidate has finished: a request is granted without moving the plan;
        an answer gets the decision, made on the whole answer (every turn since the question)."""
        language = self.plan.language
        request = self._last_request
        if request == "repeat" and self._asked_text:
            self._turns.answer.clear()  # the request is no part of the answer
            return _Pending("repeat", repeat_line(self._asked_text, language))
        answer = self._turns.answer.text
        started = time.perf_counter()
        if request == "move_on":
            upcoming = self.plan.question(self._state.question_index + 1)
            why = "candidate asked to move on"
            if upcoming is None:
                decision = Decision("close", script.closing(language), why)
            else:
                decision = Decision("next", script.next_question(upcoming, language), why)
        else:
            decision = await self._decider.decide(answer, self._state, self.plan)
        log.info("decision %s (%s, %s): %s", decision.kind, decision.source, decision.reason, decision.text)
        return _Pending(decision.kind, decision.text, decision, time.perf_counter() - started)

    async def tts_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncGenerator[rtc.AudioFrame, None]:
        # Our replies arrive whole (llm_node yields one string), so waiting for the end of the text
        # costs nothing and gives the cache key.
        full = "".join([chunk async for chunk in text]).strip()
        if not full:
            return
        # Timed here: livekit's own TTFB needs the text's arrival, which a whole-text node hides.
        started = time.perf_counter()
        cached = await self._speech.lookup(full)
        if cached is None:
            # The reply's audio is not ready: a short acknowledgement covers the wait (never before
            # the answer is over: it plays only once the turn has ended, like the reply itself).
            self._acknowledge()
            cached = await self._speech.lookup(full, wait_s=self._prefetch_wait_s)
        if cached is not None:
            self._tts_timing = (full, time.perf_counter() - started, True)
            for frame in pcm_frames(cached.pcm, cached.sample_rate):
                yield frame
            return
        # Not cached yet: through the library all the same, so a sentence another call (or process)
        # is synthesizing right now is joined, not made twice; chunks play as they are made.
        framer: AudioByteStream | None = None
        async for chunk in self._speech.stream(full):
            if framer is None:
                self._tts_timing = (full, time.perf_counter() - started, False)
                rate = chunk.sample_rate
                framer = AudioByteStream(rate, 1, samples_per_channel=rate // 50)
            for frame in framer.write(chunk.pcm):
                yield frame
        if framer is not None:
            for frame in framer.flush():
                yield frame

    def _acknowledge(self) -> None:
        pending = self._pending
        if (
            self._ack is None
            or self._ack.active
            or self._state.status != "live"
            or pending is None
            or pending.decision is None
        ):
            return
        self._ack.play()

    # --- session events ---------------------------------------------------------------------------

    def _on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._line_started_at = monotonic_from_wall(ev.created_at)
            self._turns.interviewer_speaking = True
        elif ev.old_state == "speaking":
            self._turns.interviewer_speaking = False
        if ev.new_state == "listening":
            self._line_started_at = None

    def _line_in_flight(self) -> bool:
        """The interviewer is preparing or playing a line (or its acknowledgement is out)."""
        busy = self.session.agent_state in ("thinking", "speaking")
        return busy or (self._ack is not None and self._ack.active)

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        at = monotonic_from_wall(ev.created_at)
        if ev.new_state == "speaking":
            self._timer.user_started(at)
            self._cancel_silence_prompt()
            if self._ack is not None and self._ack.drop():
                log.debug("acknowledgement dropped: the candidate spoke again")
            if self._line_in_flight() and self._state.status == "live":
                since = None if self._line_started_at is None else at - self._line_started_at
                if stop_at_once(since, self._turns.options):
                    self._stop_line("the candidate went on with the answer")
                else:
                    self._barge_task = asyncio.create_task(self._barge_in_check(at))
        elif ev.new_state == "listening" and ev.old_state == "speaking":
            self._timer.user_stopped(at)
            if self._state.status == "live" and not self._line_in_flight():
                # Judge the answer heard so far while its last words are still being transcribed.
                self._decider.speculate(self._turns.answer.text, self._state, self.plan)

    async def _barge_in_check(self, started_at: float) -> None:
        """Later in a line, speech stops it only if it lasts: a backchannel is over before."""
        await asyncio.sleep(self._turns.options.barge_in_s)
        if self._timer.user_speaking_since == started_at and self._line_in_flight():
            self._stop_line("the candidate spoke over the interviewer")

    def _stop_line(self, why: str) -> None:
        log.info("interviewer stops its line: %s", why)
        self.stops.append(time.monotonic())
        if self._ack is not None:
            self._ack.drop()
        self.session.interrupt()

    def _on_item_added(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, llm.ChatMessage):
            return
        if item.role == "user":
            # Turns committed while the session closes skip on_user_turn_completed.
            self._record_user(item)
        elif item.role == "assistant":
            self._record_agent(item)

    # --- silence after a question -----------------------------------------------------------------

    def _cancel_silence_prompt(self) -> None:
        if self._silence_task is not None:
            self._silence_task.cancel()
            self._silence_task = None

    def _arm_silence_prompt(self) -> None:
        self._cancel_silence_prompt()
        if self._prompts >= self._turns.options.max_prompts or self._state.status != "live":
            return
        self._silence_task = asyncio.create_task(self._silence_prompt())

    async def _silence_prompt(self) -> None:
        await asyncio.sleep(self._turns.options.silence_prompt_s)
        if self._line_in_flight() or self._timer.user_speaking_since is not None:
            return
        if self._turns.answer.words:
            return  # the candidate has begun: a pause inside an answer is the policy's to judge
        text = silence_prompt(self.plan.language, self._prompts, self._turns.options.max_prompts)
        self._prompts += 1
        self._pending = _Pending("prompt", text)
        self._silence_task = None
        self.session.say(text)

    # --- turns and state --------------------------------------------------------------------------

    def _record_user(self, message: llm.ChatMessage) -> None:
        if message.id in self._seen_user_items:
            return
        self._seen_user_items.add(message.id)
        metrics = message.metrics
        latencies: dict[str, float] = {}
        if (delay := metrics.get("end_of_turn_delay")) is not None:
            latencies["endpointing_s"] = round(delay, 3)
        if (delay := metrics.get("transcription_delay")) is not None:
            latencies["stt_final_s"] = round(delay, 3)
        if self._stt_plugin is not None and self._stt_plugin.last_finalize_s is not None:
            latencies["stt_finalize_s"] = round(self._stt_plugin.last_finalize_s, 3)
        if (wait := self._turns.last_wait) is not None:
            latencies["end_of_turn_wait_s"] = wait.silence_s
        text = message.text_content or ""
        self._last_request = request_in(text, self.plan.language)
        started, stopped = self._speaking_span(metrics)
        self._emit(
            TurnRecord(
                seq=next(self._seq),
                speaker="candidate",
                text=text,
                kind="request" if self._last_request is not None else "answer",
                question_index=self._question_index(),
                started_s=self._timer.since_origin(started),
                ended_s=self._timer.since_origin(self._timer.speech_end or stopped),
                latencies=latencies,
            )
        )

    def _record_agent(self, message: llm.ChatMessage) -> None:
        pending, self._pending = self._pending, None
        kind: TurnKind = pending.kind if pending is not None else "other"
        # A line the candidate cut off by speaking on is given back: not asked, the plan stays, and
        # the answer goes on (a greeting cut short still put its question: the call has begun).
        given_back = message.interrupted and kind not in ("greeting", "resume")
        if pending is not None and pending.decision is not None and not given_back:
            self._state = self._state.after(pending.decision.kind)
            self._save()
            self._prefetch_upcoming()
        if not given_back:
            self._last_request = None
            if kind in ASKING:
                self._asked_text = self._question_text(pending)
                self._turns.asked(self._asked_text)
                self._prompts = 0
            if kind in ASKING or kind == "prompt":
                self._arm_silence_prompt()
        metrics = message.metrics
        latencies = self._timer.take(question=kind in ("follow_up", "next"))
        if pending is not None and pending.decision_s is not None:
            latencies["decision_s"] = round(pending.decision_s, 3)
        if self._tts_timing is not None and pending is not None and self._tts_timing[0] == pending.text:
            latencies["tts_ttfb_s"] = round(self._tts_timing[1], 3)
            latencies["tts_cached"] = float(self._tts_timing[2])
        self._tts_timing = None
        report: dict[str, object] = dict(metrics)
        for key, name in (("llm_node_ttft", "llm_ttft_s"), ("e2e_latency", "e2e_s")):
            value = report.get(key)
            if isinstance(value, int | float):
                latencies[name] = round(float(value), 3)
        started, stopped = self._speaking_span(metrics)
        self._emit(
            TurnRecord(
                seq=next(self._seq),
                speaker="interviewer",
                text=message.text_content or "",
                kind=kind,
                question_index=self._question_index(),
                started_s=self._timer.since_origin(started),
                ended_s=self._timer.since_origin(stopped),
                interrupted=message.interrupted,
                latencies=latencies,
            )
        )
        if self._state.status == "ended" and not given_back:
            self.closed.set()

    def _question_text(self, pending: _Pending | None) -> str:
        """The question a line of ``pending`` put, as a repeat says it (no greeting or transition)."""
        if pending is not None and pending.kind in ("follow_up",):
            return pending.text
        if pending is not None and pending.kind == "repeat":
            return self._asked_text
        question = self.plan.question(self._state.question_index)
        return question.text if question is not None else ""

    @staticmethod
    def _speaking_span(metrics: Mapping[str, object]) -> tuple[float | None, float | None]:
        """livekit's wall-clock start/stop of speech, converted once to our monotonic clock."""
        span = (metrics.get("started_speaking_at"), metrics.get("stopped_speaking_at"))
        started, stopped = (
            monotonic_from_wall(float(t)) if isinstance(t, int | float) and t else None for t in span
        )
        return started, stopped

    def _question_index(self) -> int:
        return min(self._state.question_index, len(self.plan.questions) - 1)

    def _emit(self, record: TurnRecord) -> None:
        self.turns.append(record)
        if self._on_turn is None:
            return
        try:
            result = self._on_turn(record)
        except Exception:
            log.exception("on_turn callback failed")
            return
        if inspect.isawaitable(result):
            self._track(self._await_callback(result))

    async def _await_callback(self, result: Awaitable[None]) -> None:
        try:
            await result
        except Exception:
            log.exception("on_turn callback failed")

    def _save(self) -> None:
        state = self._state
        self._track(self._save_now(state))

    async def _save_now(self, state: InterviewState) -> None:
        # In order: a later state must never be overwritten by an earlier save finishing late.
        async with self._save_lock:
            try:
                await self._store.save(state)
            except Exception:
                log.exception("saving the interview state failed")

    def _track(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _prefetch_upcoming(self) -> None:
        upcoming = self.plan.question(self._state.question_index + 1)
        if upcoming is not None:
            self._speech.prefetch(script.next_question(upcoming, self.plan.language))
