"""One interview as a livekit ``AgentSession`` with no LiveKit server and no room.

Built as the offline prototype was verified (DESIGN.md): plugin instances, never model-name strings;
no default turn detector (it runs a local model and once waited its full 3 s); VAD interruptions; no
AEC warm-up (its default ignores barge-in for the first 3 s of every reply); no away timer; no
recording; and no ``LIVEKIT_*`` cloud variables in the environment.

Turns end by our own transcript-aware endpointing by default (livekit's "stt" mode following our
STT stream's end-of-speech), not by plain "vad" mode: with a streaming STT, "vad" mode commits a
turn at a later pause's end of speech with only the earlier pauses' transcripts, before the last
words are transcribed, and the late words then start a second turn that cuts off the reply.
Both use the same VAD for user state and barge-in; "vad" stays selectable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from livekit.agents import APIConnectOptions, vad
from livekit.agents.voice import AgentSession, CloseEvent
from livekit.agents.voice.agent_session import SessionConnectOptions
from livekit.agents.voice.turn import TurnHandlingOptions

from agent.errors import OfflineConfigError
from agent.models.base import ChatLLM, Pcm16, SpeechToText, TextToSpeech
from agent.models.transcriber import TranscriberOptions
from agent.plan.stages import Language
from agent.session import script
from agent.session.ack import Acknowledger
from agent.session.audio_io import (
    OUTPUT_RATE,
    AudioSink,
    FrameSourceInput,
    SinkAudioOutput,
    SinkEvents,
    resample_pcm,
)
from agent.session.decide import Decider
from agent.session.interviewer import Interviewer, TurnCallback
from agent.session.plugins import LKLanguageModel, LKSpeechToText, LKTextToSpeech, load_vad
from agent.session.speech import MemorySpeechCache, SpeechCache, SpeechLibrary
from agent.session.state import InterviewPlan, InterviewState, StateStore
from agent.session.turn_taking import TurnTaking, TurnTakingOptions, prompt_texts
from agent.session.turns import TurnRecord, TurnTimer

log = logging.getLogger(__name__)

CLOUD_ENV = (
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "LIVEKIT_INFERENCE_URL",
    "LIVEKIT_INFERENCE_API_KEY",
    "LIVEKIT_INFERENCE_API_SECRET",
    "LIVEKIT_WORKER_TOKEN",
)
"""Variables that make livekit-agents resolve models or turn detection to LiveKit's cloud."""

EndReason = Literal["closed", "input_ended", "timeout", "already_ended", "error"]


def check_offline_env() -> None:
    found = [name for name in CLOUD_ENV if os.environ.get(name)]
    if found:
        raise OfflineConfigError(
            f"unset {', '.join(found)}: the interviewer runs offline, without LiveKit Cloud"
        )


@dataclass(frozen=True, slots=True)
class SessionOptions:
    language: Language | None = None
    """Speech and script language; None takes the plan's."""
    turn_detection: Literal["stt", "vad"] = "stt"
    """What ends a turn: our STT stream's end of speech (after the final transcript), or livekit's
    VAD end of speech (see the module docstring for why "stt" is the default)."""
    min_silence_s: float = 0.3
    """VAD silence that ends a stretch of speech (0.55 s is livekit's default; 0.3 s measured 0.3 s
    faster end to end)."""
    endpointing_delay_s: float = 0.3
    """Extra wait after the end of speech before the turn commits, counted from the end of speech:
    at or below ``min_silence_s`` it adds nothing, and the final transcript commits the turn."""
    turn_taking: TurnTakingOptions = field(default_factory=TurnTakingOptions)
    """When an answer is over, when candidate speech stops the interviewer, when to prompt."""
    ack: bool = True
    """Play a short acknowledgement at the end of an answer when the reply's audio is not ready yet
    (benchmarks compare both)."""
    follow_ups: bool = True
    """At most one follow-up per planned question; off, the interview asks exactly the plan."""
    decision_llm: bool = False
    """Let the LLM refine unclear follow-up decisions; it starts judging at the candidate's pause.
    Off by default: on the 2-core machine SmolLM2 took 2.9 s for a verdict beside Whisper, and
    slowed Whisper's final call from 1.4 to 2.4 s, so the rule alone gives the next question ~1.5 s
    sooner."""
    decision_wait_s: float = 0.3
    """How long a reply may wait, after the final transcript, for the LLM's verdict to be ready."""
    llm_threads: int = 1
    """llama.cpp threads expected on the 2-core machine: with 2 it fell from ~93 to ~35 tokens/s while
    the session ran, with 1 it held ~54. Checked against the loaded model, which is built elsewhere."""
    transcriber: TranscriberOptions | None = None
    stt_update_every_s: float = 2.0
    """New speech between two transcriptions while the candidate speaks (interim captions). Each
    Whisper call costs ~0.5 s of CPU whatever its length: at 1.0 s a call was in flight at most ends
    of speech, and the final transcript shared the cores with it (1.2-2.8 s finals for tiny.en, 2
    threads, against 0.55 s alone)."""
    stt_pause_update_s: float | None = 0.1
    """Silence after which an idle transcriber updates at once, so the final transcript is free."""
    start_timeout_s: float = 60.0
    """Bounds pre-synthesis of the opening lines and the session start."""
    shutdown_timeout_s: float = 15.0
    close_transcript_timeout_s: float = 2.0
    """On hang-up, how long livekit waits for the transcript of words still being spoken."""
    max_duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.min_silence_s <= 0 or self.endpointing_delay_s < 0:
            raise ValueError("silence, endpointing and interruption durations must be positive")
        if self.llm_threads < 1:
            raise ValueError("llm_threads must be at least 1")


@dataclass(frozen=True, slots=True)
class SessionModels:
    stt: SpeechToText
    tts: TextToSpeech
    llm: ChatLLM | None = None
    vad: vad.VAD | None = None
    """livekit's Silero VAD; None loads one with ``min_silence_s`` (about 0.1 s)."""


@dataclass(frozen=True, slots=True)
class InterviewOutcome:
    reason: EndReason
    state: InterviewState
    turns: tuple[TurnRecord, ...]
    duration_s: float
    error: str | None = None


_NEVER_S = 3600.0


def turn_handling(options: SessionOptions) -> TurnHandlingOptions:
    return {
        "turn_detection": options.turn_detection,
        "endpointing": {"min_delay": options.endpointing_delay_s, "max_delay": 3.0},
        "interruption": {
            "enabled": True,
            "mode": "vad",
            # Never by livekit's VAD rule: the interviewer stops its own lines (turn_taking.py), at
            # the first voiced frame after a false end of turn, later only for sustained speech.
            # Interruptions stay enabled so a committed turn may still replace a playing line.
            "min_duration": _NEVER_S,
            # Our track cannot pause, so a "false interruption" cannot be resumed anyway.
            "resume_false_interruption": False,
            "false_interruption_timeout": None,
        },
        # The final transcript is what commits the turn, so a preemptive reply would start no
        # earlier; it would only run the decision twice on a changing answer.
        "preemptive_generation": {"enabled": False},
    }


def build_session(
    options: SessionOptions,
    models: SessionModels,
    vad_model: vad.VAD,
    language: str,
    turn_taking: TurnTaking | None = None,
) -> AgentSession[None]:
    # Local models: retrying a failed call after livekit's 2 s back-off only stalls the call.
    no_retry = APIConnectOptions(max_retry=0, timeout=30.0)
    return AgentSession(
        vad=vad_model,
        stt=LKSpeechToText(
            models.stt,
            vad=vad_model,
            language=language,
            transcriber_options=options.transcriber,
            turn_taking=turn_taking,
            update_every_s=options.stt_update_every_s,
            pause_update_s=options.stt_pause_update_s,
        ),
        llm=LKLanguageModel(models.llm),
        tts=LKTextToSpeech(models.tts),
        turn_handling=turn_handling(options),
        aec_warmup_duration=None,
        user_away_timeout=None,
        tts_text_transforms=None,
        session_close_transcript_timeout=options.close_transcript_timeout_s,
        conn_options=SessionConnectOptions(
            stt_conn_options=no_retry, llm_conn_options=no_retry, tts_conn_options=no_retry
        ),
    )


async def _acknowledgement_clips(speech: SpeechLibrary, language: Language) -> list[bytes]:
    clips = []
    for text in script.ACKNOWLEDGEMENTS[language]:
        audio = await speech.get(text)
        clips.append(resample_pcm(audio.pcm, audio.sample_rate, OUTPUT_RATE))
    return clips


async def run_interview(
    *,
    audio_in: AsyncIterator[Pcm16],
    sink: AudioSink,
    plan: InterviewPlan,
    models: SessionModels,
    state_store: StateStore,
    on_turn: TurnCallback | None = None,
    options: SessionOptions = SessionOptions(),
    speech_cache: SpeechCache | None = None,
    origin: float | None = None,
) -> InterviewOutcome:
    """Run the interview until it closes, the input ends or ``max_duration_s`` passes.

    ``origin``: the monotonic time turn times count from (default: the session's start); pass the
    recordings' origin to make each turn's times offsets into the recorded audio."""
    check_offline_env()
    started = time.monotonic()
    state = await state_store.load() or InterviewState()
    if state.status == "ended":
        return InterviewOutcome("already_ended", state, (), 0.0)
    language: Language = options.language or plan.language
    if options.language is not None and options.language != plan.language:
        plan = InterviewPlan(options.language, plan.questions, plan.target_role, plan.candidate_name)
    threads = models.llm.info.details.get("n_threads") if models.llm is not None else None
    if isinstance(threads, int) and threads > options.llm_threads:
        log.warning(
            "LLM runs %d threads; %d keeps it fast beside STT on 2 cores", threads, options.llm_threads
        )

    vad_model = models.vad
    if vad_model is None:
        vad_model = await asyncio.to_thread(load_vad, min_silence_s=options.min_silence_s)
    speech = SpeechLibrary(models.tts, speech_cache or MemorySpeechCache())
    session: AgentSession[None] | None = None
    output: SinkAudioOutput | None = None
    agent: Interviewer | None = None
    reason: EndReason = "error"
    error: str | None = None
    try:
        # The opening is awaited so the greeting starts at once; the rest is made in the background.
        opening = script.opening(plan, state)
        speech.prefetch(opening)
        for text in [*script.fixed_utterances(language), *prompt_texts(language)]:
            speech.prefetch(text)
        clips = await asyncio.wait_for(_acknowledgement_clips(speech, language), options.start_timeout_s)
        await asyncio.wait_for(speech.get(opening), options.start_timeout_s)

        events = SinkEvents(sink)
        output = SinkAudioOutput(sink, events)
        audio_input = FrameSourceInput(audio_in)
        timer = TurnTimer(snap=audio_input.last_received_at_or_before, origin=origin)
        reply_output = output
        events.subscribe(
            started=lambda segment, at: timer.audio_started(at, reply=reply_output.owns(segment))
        )
        ack = Acknowledger(sink, events, clips, reply_busy=lambda: reply_output.busy) if options.ack else None

        turn_taking = TurnTaking(language, options.turn_taking)
        session = build_session(options, models, vad_model, language, turn_taking)
        stt_plugin = session.stt if isinstance(session.stt, LKSpeechToText) else None
        agent = Interviewer(
            plan=plan,
            state=state,
            store=state_store,
            decider=Decider(
                models.llm if options.decision_llm else None,
                wait_s=options.decision_wait_s,
                follow_ups=options.follow_ups,
            ),
            speech=speech,
            timer=timer,
            on_turn=on_turn,
            ack=ack,
            stt=stt_plugin,
            turn_taking=turn_taking,
        )
        session_closed = asyncio.Event()

        def on_close(ev: CloseEvent) -> None:
            nonlocal error
            if ev.error is not None:
                error = str(ev.error.error)
            session_closed.set()

        session.on("close", on_close)
        session.input.audio = audio_input
        session.output.audio = output
        await asyncio.wait_for(session.start(agent, record=False), options.start_timeout_s)
        reason = await _wait_for_end(agent, audio_input, session_closed, options.max_duration_s)
    except TimeoutError:
        reason, error = "error", "start timed out"
        log.error("interview session did not start within %.0f s", options.start_timeout_s)
    finally:
        await _shutdown(session, output, agent, speech, options.shutdown_timeout_s)
    final_state = agent.state if agent is not None else state
    turns = tuple(agent.turns) if agent is not None else ()
    return InterviewOutcome(reason, final_state, turns, time.monotonic() - started, error)


async def _wait_for_end(
    agent: Interviewer,
    audio_input: FrameSourceInput,
    session_closed: asyncio.Event,
    max_duration_s: float | None,
) -> EndReason:
    waits = {
        asyncio.ensure_future(agent.closed.wait()): "closed",
        asyncio.ensure_future(audio_input.ended.wait()): "input_ended",
        asyncio.ensure_future(session_closed.wait()): "error",
    }
    try:
        done, _ = await asyncio.wait(waits, timeout=max_duration_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
    if agent.closed.is_set():
        return "closed"  # even if the candidate hung up while the closing line played
    if audio_input.ended.is_set():
        return "input_ended"
    return "error" if done else "timeout"


async def _shutdown(
    session: AgentSession[None] | None,
    output: SinkAudioOutput | None,
    agent: Interviewer | None,
    speech: SpeechLibrary,
    timeout_s: float,
) -> None:
    if session is not None:
        try:
            await asyncio.wait_for(session.aclose(), timeout_s)
        except TimeoutError:
            log.error("session did not close within %.0f s", timeout_s)
        except Exception:
            log.exception("session close failed")
    if output is not None:
        output.close()
    await speech.aclose()
    if agent is not None:
        try:
            await asyncio.wait_for(agent.aclose(), timeout_s)
        except TimeoutError:
            log.error("state saves / turn callbacks still running after %.0f s", timeout_s)
    if session is not None:
        for plugin in (session.stt, session.llm, session.tts):
            if plugin is not None:
                await plugin.aclose()
