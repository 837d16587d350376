"""The interviewer: a livekit ``Agent`` whose replies come from the interview's structure, not from
the tiny LLM speaking freely.

``llm_node`` is overridden: after each answer :class:`Decider` picks at most one follow-up, else the
next planned question, else the close, and that text is the reply. The decision is committed to the
persisted state only once its reply has actually been heard (livekit adds the assistant message to
the history when playback ends or is cut; a reply dropped before its first frame never is), so a
reply that never played does not move the interview on. ``tts_node`` serves pre-synthesized audio
at once when it has it.
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
    ConversationItemAddedEvent,
    UserInputTranscribedEvent,
    UserStateChangedEvent,
)

from agent.session import script
from agent.session.ack import Acknowledger
from agent.session.audio_io import monotonic_from_wall, pcm_frames
from agent.session.cues import looks_unfinished
from agent.session.decide import Decider, Decision
from agent.session.plugins import LKSpeechToText
from agent.session.speech import SpeechLibrary
from agent.session.state import InterviewPlan, InterviewState, StateStore
from agent.session.turns import TurnKind, TurnRecord, TurnTimer

log = logging.getLogger(__name__)

TurnCallback = Callable[[TurnRecord], Awaitable[None] | None]


def answer_since_last_reply(chat_ctx: llm.ChatContext) -> str:
    """The candidate's words since the interviewer last spoke, across any turns whose replies were
    dropped before they played (the candidate paused, then went on)."""
    parts: list[str] = []
    for item in reversed(chat_ctx.items):
        if not isinstance(item, llm.ChatMessage):
            continue
        if item.role == "assistant":
            break
        if item.role == "user" and item.text_content:
            parts.append(item.text_content)
    return " ".join(reversed(parts)).strip()


@dataclass(frozen=True, slots=True)
class _Pending:
    """The utterance produced last and not yet heard."""

    kind: TurnKind
    text: str
    decision: Decision | None = None
    decision_s: float | None = None


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
        on_turn: TurnCallback | None = None,
        ack: Acknowledger | None = None,
        ack_min_speech_s: float = 0.6,
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
        self._on_turn = on_turn
        self._ack = ack
        self._ack_min_speech_s = ack_min_speech_s
        self._stt_plugin = stt  # not _stt: Agent keeps its own STT override there
        self._prefetch_wait_s = prefetch_wait_s
        self._pending: _Pending | None = None
        self._tts_timing: tuple[str, float, bool] | None = None
        """(text, seconds from text to first audio, served from the cache) of the latest reply."""
        self._seq = itertools.count()
        self._acked = False
        self._speech_started_at: float | None = None
        self._last_transcript = ""
        self._heard_finals: list[str] = []
        """Final transcripts since the interviewer last spoke: the answer so far."""
        self._heard_interim = ""
        self._seen_user_items: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._save_lock = asyncio.Lock()
        self.closed = asyncio.Event()
        """Set once the closing line has been heard."""
        self.turns: list[TurnRecord] = []

    @property
    def state(self) -> InterviewState:
        return self._state

    # --- lifecycle --------------------------------------------------------------------------------

    async def on_enter(self) -> None:
        session = self.session
        session.on("conversation_item_added", self._on_item_added)
        session.on("user_state_changed", self._on_user_state)
        session.on("user_input_transcribed", self._on_transcribed)
        resuming = self._state.status == "live" or self._state.question_index > 0
        text = script.opening(self.plan, self._state)
        self._state = self._state.started()
        self._save()
        self._prefetch_upcoming()
        self._pending = _Pending("resume" if resuming else "greeting", text)
        session.say(text)

    async def on_exit(self) -> None:
        session = self.session
        session.off("conversation_item_added", self._on_item_added)
        session.off("user_state_changed", self._on_user_state)
        session.off("user_input_transcribed", self._on_transcribed)

    async def aclose(self) -> None:
        """Drop a pending LLM judgement; wait for state saves and turn callbacks still running."""
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
        answer = answer_since_last_reply(chat_ctx)
        started = time.perf_counter()
        decision = await self._decider.decide(answer, self._state, self.plan)
        self._pending = _Pending(decision.kind, decision.text, decision, time.perf_counter() - started)
        log.info("decision %s (%s, %s): %s", decision.kind, decision.source, decision.reason, decision.text)
        yield decision.text

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

    # --- session events ---------------------------------------------------------------------------

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        at = monotonic_from_wall(ev.created_at)
        if ev.new_state == "speaking":
            self._timer.user_started(at)
            self._speech_started_at = at
            if self._ack is not None and self._ack.drop():
                self._acked = False  # the candidate went on: the next pause may earn one again
                log.debug("acknowledgement dropped: the candidate spoke again")
        elif ev.new_state == "listening" and ev.old_state == "speaking":
            end = self._timer.user_stopped(at)
            spoke_s = end - self._speech_started_at if self._speech_started_at is not None else 0.0
            self._maybe_acknowledge(spoke_s)
            if self._state.status == "live":
                # Judge the answer heard so far while its last words are still being transcribed.
                self._decider.speculate(self._heard_so_far(), self._state, self.plan)

    def _maybe_acknowledge(self, spoke_s: float) -> None:
        ack = self._ack
        if (
            ack is None
            or self._acked
            or ack.active
            or self._state.status != "live"
            or spoke_s < self._ack_min_speech_s
            or self.session.agent_state == "speaking"
            or looks_unfinished(self._last_transcript, self.plan.language)
        ):
            return
        ack.play()
        self._acked = True

    def _on_transcribed(self, ev: UserInputTranscribedEvent) -> None:
        if not ev.transcript:
            return
        self._last_transcript = ev.transcript
        if ev.is_final:
            self._heard_finals.append(ev.transcript)
            self._heard_interim = ""
        else:
            self._heard_interim = ev.transcript

    def _heard_so_far(self) -> str:
        return " ".join([*self._heard_finals, self._heard_interim]).strip()

    def _on_item_added(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, llm.ChatMessage):
            return
        if item.role == "user":
            # Turns committed while the session closes skip on_user_turn_completed.
            self._record_user(item)
        elif item.role == "assistant":
            self._record_agent(item)

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
        started, stopped = self._speaking_span(metrics)
        self._emit(
            TurnRecord(
                seq=next(self._seq),
                speaker="candidate",
                text=message.text_content or "",
                kind="answer",
                question_index=self._question_index(),
                started_s=self._timer.since_origin(started),
                ended_s=self._timer.since_origin(self._timer.speech_end or stopped),
                latencies=latencies,
            )
        )

    def _record_agent(self, message: llm.ChatMessage) -> None:
        pending, self._pending = self._pending, None
        kind: TurnKind = pending.kind if pending is not None else "other"
        if pending is not None and pending.decision is not None:
            self._state = self._state.after(pending.decision.kind)
            self._save()
            self._prefetch_upcoming()
        self._acked = False
        self._heard_finals, self._heard_interim = [], ""
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
        if self._state.status == "ended":
            self.closed.set()

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
