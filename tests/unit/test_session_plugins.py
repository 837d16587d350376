"""The livekit plugin adapters over our model interfaces, driven the way livekit drives them."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import llm, stt

from agent.errors import ModelError
from agent.session.plugins import LKLanguageModel, LKSpeechToText, LKTextToSpeech
from tests.fakes import FakeLLM, FakeSTT, FakeTTS, FakeVAD


def frames(kind: str, seconds: float, amplitude: int = 6000) -> list[rtc.AudioFrame]:
    n = round(seconds * 50)
    out = []
    for i in range(n):
        if kind == "tone":
            t = (np.arange(320) + i * 320) / 16_000
            samples = (np.sin(2 * np.pi * 220 * t) * amplitude).astype(np.int16)
        else:
            samples = np.zeros(320, dtype=np.int16)
        out.append(rtc.AudioFrame(samples.tobytes(), 16_000, 1, 320))
    return out


async def collect(stream: stt.RecognizeStream, until: stt.SpeechEventType) -> list[stt.SpeechEvent]:
    events: list[stt.SpeechEvent] = []
    async for ev in stream:
        events.append(ev)
        if ev.type == until:
            break
    return events


async def push_paced(stream: stt.RecognizeStream, audio: list[rtc.AudioFrame]) -> None:
    for frame in audio:
        stream.push_frame(frame)
        await asyncio.sleep(0.002)


async def test_stream_interim_then_final_then_end_of_speech() -> None:
    model = FakeSTT("I led the migration")
    plugin = LKSpeechToText(model, vad=FakeVAD(), language="en")
    assert plugin.capabilities.streaming
    stream = plugin.stream()
    feeder = asyncio.create_task(
        push_paced(stream, frames("silence", 0.2) + frames("tone", 1.5) + frames("silence", 0.5))
    )
    events = await asyncio.wait_for(collect(stream, stt.SpeechEventType.END_OF_SPEECH), 10)
    await feeder
    await stream.aclose()
    kinds = [ev.type for ev in events]
    assert kinds[0] == stt.SpeechEventType.START_OF_SPEECH
    assert stt.SpeechEventType.INTERIM_TRANSCRIPT in kinds  # transcribed while spoken
    final = kinds.index(stt.SpeechEventType.FINAL_TRANSCRIPT)
    assert final == len(kinds) - 2  # the end of speech follows the final transcript
    assert events[final].alternatives[0].text == "I led the migration"
    assert events[final].alternatives[0].language == "en"
    assert events[-1].speech_end_time is not None
    assert len(model.calls) >= 2  # an update during speech, then the final call
    model.close()


async def test_stream_skips_end_of_speech_when_speech_resumes() -> None:
    model = FakeSTT("part", delay_s=0.3)
    plugin = LKSpeechToText(model, vad=FakeVAD(min_silence_s=0.1), language="en")
    stream = plugin.stream()
    audio = frames("tone", 0.5) + frames("silence", 0.16) + frames("tone", 0.5) + frames("silence", 0.3)
    feeder = asyncio.create_task(push_paced(stream, audio))
    events = await asyncio.wait_for(collect(stream, stt.SpeechEventType.END_OF_SPEECH), 10)
    await feeder
    await stream.aclose()
    kinds = [ev.type for ev in events]
    assert kinds.count(stt.SpeechEventType.FINAL_TRANSCRIPT) == 2
    assert kinds.count(stt.SpeechEventType.END_OF_SPEECH) == 1  # only after the last utterance
    assert kinds[-2:] == [stt.SpeechEventType.FINAL_TRANSCRIPT, stt.SpeechEventType.END_OF_SPEECH]
    model.close()


async def test_unfinished_sentence_holds_the_end_of_speech() -> None:
    model = FakeSTT("I moved the billing service and")
    plugin = LKSpeechToText(model, vad=FakeVAD(min_silence_s=0.1), language="en", unfinished_hold_s=0.3)
    assert plugin.hold_for("so we did it and") == 0.3
    assert plugin.hold_for("So we moved the billing service to Kubernetes last year.") == 0.0
    # Too short to be an answer yet, full stop or not (tiny.en: "And so my fellow Americans.").
    assert plugin.hold_for("And so my fellow Americans.") == 0.3
    # ... unless the turn so far is long enough: a short last sentence ends it.
    long_turn = "We moved the billing service to Kubernetes last year. It worked."
    assert plugin.hold_for("It worked.", long_turn) == 0.0
    assert plugin.hold_for("") == 0.0  # noise without words
    stream = plugin.stream()
    feeder = asyncio.create_task(push_paced(stream, frames("tone", 0.5) + frames("silence", 0.3)))
    started = asyncio.get_running_loop().time()
    events = await asyncio.wait_for(collect(stream, stt.SpeechEventType.END_OF_SPEECH), 10)
    await feeder
    await stream.aclose()
    assert events[-1].type == stt.SpeechEventType.END_OF_SPEECH
    assert asyncio.get_running_loop().time() - started >= 0.3
    model.close()


async def test_failed_transcription_keeps_the_stream_alive() -> None:
    model = FakeSTT(fail_with=ModelError("whisper down"))
    stream = LKSpeechToText(model, vad=FakeVAD(min_silence_s=0.1)).stream()
    feeder = asyncio.create_task(push_paced(stream, frames("tone", 0.4) + frames("silence", 0.2)))
    events = await asyncio.wait_for(collect(stream, stt.SpeechEventType.END_OF_SPEECH), 10)
    await feeder
    await stream.aclose()
    assert stt.SpeechEventType.FINAL_TRANSCRIPT not in [ev.type for ev in events]
    model.close()


async def test_recognize_batch() -> None:
    model = FakeSTT("hello there")
    plugin = LKSpeechToText(model, vad=None, language="en")
    assert not plugin.capabilities.streaming
    event = await plugin.recognize(frames("tone", 0.5))
    assert event.type == stt.SpeechEventType.FINAL_TRANSCRIPT
    assert event.alternatives[0].text == "hello there"
    assert model.calls == [pytest.approx(0.5)]
    with pytest.raises(NotImplementedError):
        plugin.stream()
    model.close()


async def test_tts_chunked_stream() -> None:
    model = FakeTTS(sample_rate=22_050)
    plugin = LKTextToSpeech(model)
    frame = await asyncio.wait_for(plugin.synthesize("Hello, how are you today?").collect(), 10)
    assert frame.sample_rate == 22_050
    assert frame.duration == pytest.approx(model.duration("Hello, how are you today?"), abs=0.03)
    model.close()


async def test_llm_sends_system_and_last_user_message_only() -> None:
    model = FakeLLM("Sure, tell me more.")
    plugin = LKLanguageModel(model)
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="Be brief.")
    ctx.add_message(role="user", content="first answer")
    ctx.add_message(role="assistant", content="first reply")
    ctx.add_message(role="user", content="second answer")
    text = ""
    usage = None
    async with plugin.chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                text += chunk.delta.content
            usage = chunk.usage or usage
    assert text == "Sure, tell me more."
    assert usage is not None
    assert usage.total_tokens == 20
    (messages,) = model.calls
    assert [(m.role, m.content) for m in messages] == [("system", "Be brief."), ("user", "second answer")]
    model.close()


async def test_llm_without_model_says_nothing() -> None:
    plugin = LKLanguageModel(None)
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="user", content="hi")
    async with plugin.chat(chat_ctx=ctx) as stream:
        chunks = [chunk async for chunk in stream]
    assert all(not (c.delta and c.delta.content) for c in chunks)
