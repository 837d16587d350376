"""The contract test: a real livekit ``AgentSession``, offline, on recorded speech, with the real
models (Silero VAD, Whisper, Piper, SmolLM2) and the real outbound track, drained in real time.

The glue relies on livekit-agents' semi-internal contracts (the audio output's playback events, the
"stt" turn detection following our STT stream, the node overrides, the chat-history events); an
upgrade that breaks any of them fails here, loudly and within bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from agent.models import registry as model_registry
from agent.models.base import Pcm16
from agent.models.registry import ModelRegistry
from agent.session.runner import CLOUD_ENV, SessionModels, SessionOptions, run_interview
from agent.session.state import InterviewPlan, MemoryStateStore
from agent.session.turns import TurnRecord
from media.outbound import PacedAudioTrack
from tests.fixtures_paths import shared_fixture

pytestmark = pytest.mark.slow

CLIP = "audio/en_librispeech_1089-134686-0000.flac"
# Reference: "he hoped there would be stew for dinner turnips and carrots and bruised potatoes and fat
# mutton pieces to be ladled out in thick peppered flour fattened sauce"
KEY_WORDS = ("stew", "dinner", "turnips", "carrots", "potatoes", "mutton", "sauce")
PLAN = InterviewPlan.of(
    "en",
    [
        "What did you cook for your team at the last offsite?",
        "How did you plan the budget for that event?",
    ],
)


def _load_clip() -> Pcm16:
    data, rate = sf.read(str(shared_fixture(CLIP)), dtype="int16")
    assert rate == 16_000, "the LibriSpeech clip is 16 kHz"
    samples: Pcm16 = np.asarray(data, dtype=np.int16).reshape(-1)
    return samples


def _guard_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any attempt to leave the machine: only Unix sockets and loopback are allowed."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family != socket.AF_UNIX:
            host = address[0] if isinstance(address, tuple) else address
            if host not in ("127.0.0.1", "::1", "localhost"):
                attempts.append(address)
                raise OSError(f"network access attempted to {address!r}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            attempts.append(host)
            raise OSError(f"name lookup attempted for {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


@pytest.fixture(scope="module")
async def speech_models(models: ModelRegistry) -> ModelRegistry:
    missing = [role for role in ("stt", "tts") if role not in model_registry.LOADABLE_ROLES]
    if missing:
        pytest.skip(f"the model registry has no loader yet for: {', '.join(missing)}")
    await asyncio.wait_for(models.preload(("stt", "tts")), 300)
    return models


async def test_offline_session_on_recorded_speech(
    speech_models: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CLOUD_ENV:
        monkeypatch.delenv(name, raising=False)
    assert not any(os.environ.get(name) for name in CLOUD_ENV)
    attempts = _guard_network(monkeypatch)
    clip = _load_clip()

    # The real outbound track, drained at its own 20 ms pace as aiortc's sender would.
    started: list[tuple[str, float]] = []
    sink = PacedAudioTrack(on_segment_started=lambda segment, at: started.append((segment, at)))

    async def sender() -> None:
        while True:
            await sink.recv()

    sending = asyncio.create_task(sender())
    turns: list[TurnRecord] = []
    greeted = asyncio.Event()
    replied = asyncio.Event()

    def on_turn(record: TurnRecord) -> None:
        turns.append(record)
        if record.kind == "greeting":
            greeted.set()
        if record.speaker == "interviewer" and record.kind in ("follow_up", "next"):
            replied.set()

    async def candidate() -> AsyncIterator[Pcm16]:
        """Silence while the greeting plays, the recorded answer, then silence until the reply."""
        loop = asyncio.get_running_loop()
        silence = np.zeros(320, dtype=np.int16)
        deadline = loop.time()

        async def frame(samples: Pcm16) -> Pcm16:
            nonlocal deadline
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            return samples

        give_up = loop.time() + 60
        while not greeted.is_set() and loop.time() < give_up:
            yield await frame(silence)
        for _ in range(25):  # half a second after the greeting
            yield await frame(silence)
        for start in range(0, len(clip) - 319, 320):
            yield await frame(clip[start : start + 320])
        give_up = loop.time() + 30
        while not replied.is_set() and loop.time() < give_up:
            yield await frame(silence)
        for _ in range(50):  # let the reply's first second play
            yield await frame(silence)

    try:
        outcome = await asyncio.wait_for(
            run_interview(
                audio_in=candidate(),
                sink=sink,
                plan=PLAN,
                models=SessionModels(stt=speech_models.stt, tts=speech_models.tts, llm=speech_models.llm),
                state_store=MemoryStateStore(),
                on_turn=on_turn,
                options=SessionOptions(close_transcript_timeout_s=0.5, start_timeout_s=120),
            ),
            240,
        )
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        sink.stop()

    assert attempts == []
    assert outcome.reason == "input_ended", outcome.error
    # The greeting and the first question were spoken (audio pushed and played).
    greeting = turns[0]
    assert greeting.kind == "greeting"
    assert greeting.text.endswith(PLAN.questions[0].text)
    assert any(seg.startswith("reply-") for seg, _ in started)
    # The answer was transcribed.
    answers = [t for t in turns if t.speaker == "candidate"]
    assert len(answers) >= 1
    heard = " ".join(t.text for t in answers).casefold()
    found = [word for word in KEY_WORDS if word in heard]
    assert len(found) >= 5, f"transcript {heard!r} has only {found}"
    assert {"endpointing_s", "stt_final_s"} <= answers[0].latencies.keys()
    # Then a follow-up or the next question was asked.
    reply = next(t for t in turns if t.speaker == "interviewer" and t.kind in ("follow_up", "next"))
    assert {"first_audio_s", "next_question_s", "decision_s", "tts_ttfb_s"} <= reply.latencies.keys()
    assert 0 < reply.latencies["first_audio_s"] <= reply.latencies["next_question_s"] < 10
    print(  # the figures the task asks for; run with -s to see them
        "\ncontract test latencies:",
        {"answer": answers[-1].latencies, "reply": reply.latencies, "reply_kind": reply.kind},
    )
