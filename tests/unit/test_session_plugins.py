"""The livekit plugin adapters over our model interfaces, driven the way livekit drives them."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import llm, stt

from agent.errors import ModelError
from agent.session.plugins import LKLanguageModel, LKSpeechToText, LKTextToSpeech
from agent.session.turn_taking import TurnTaking, TurnTakingOptions
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
    plugin = LKSpeechToText(model, vad=FakeVAD(), language="en", update_every_s=1.0)
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


async def test_end_of_speech_waits_the_silence_the_policy_asks() -> None:
    # "... and" is unfinished: the stream asks the policy how long this pause must last.
    model = FakeSTT("I moved the billing service and")
    turn_taking = TurnTaking("en", TurnTakingOptions(unfinished_silence_s=0.6, max_silence_s=3.0))
    plugin = LKSpeechToText(model, vad=FakeVAD(min_silence_s=0.1), language="en", turn_taking=turn_taking)
    stream = plugin.stream()
    feeder = asyncio.create_task(push_paced(stream, frames("tone", 0.5) + frames("silence", 0.3)))
    events = await asyncio.wait_for(collect(stream, stt.SpeechEventType.END_OF_SPEECH), 10)
    await feeder
    await stream.aclose()
    assert events[-1].type == stt.SpeechEventType.END_OF_SPEECH
    assert turn_taking.last_wait is not None
    assert (turn_taking.last_wait.silence_s, turn_taking.last_wait.reason) == (0.6, "unfinished")
    assert turn_taking.answer.text == "I moved the billing service and"
    model.close()


async def test_backchannel_over_the_interviewer_is_no_turn() -> None:
    def transcribe(audio: np.ndarray) -> str:
        return "Mm-hmm." if float(np.abs(audio).max(initial=0)) < 7000 else "I led the migration myself."

    model = FakeSTT(transcribe)
    turn_taking = TurnTaking("en", TurnTakingOptions(open_silence_s=0.2, starting_silence_s=0.2))
    turn_taking.interviewer_speaking = True
    plugin = LKSpeechToText(model, vad=FakeVAD(min_silence_s=0.1), language="en", turn_taking=turn_taking)
    stream = plugin.stream()
    audio = frames("tone", 0.4) + frames("silence", 0.6) + frames("tone", 0.8, 9000) + frames("silence", 0.6)
    feeder = asyncio.create_task(push_paced(stream, audio))
    events = await asyncio.wait_for(collect(stream, stt.SpeechEventType.END_OF_SPEECH), 10)
    await feeder
    await stream.aclose()
    finals = [ev.alternatives[0].text for ev in events if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
    assert finals == ["I led the migration myself."]
    assert [ev.type for ev in events].count(stt.SpeechEventType.END_OF_SPEECH) == 1
    assert turn_taking.answer.text == "I led the migration myself."
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
