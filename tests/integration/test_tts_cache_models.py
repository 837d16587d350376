"""The TTS cache with the real voices from the registry, and pre-synthesis through the real API."""

from __future__ import annotations

import uuid

import httpx
import pytest
from redis.asyncio import Redis

from agent.models.registry import ModelRegistry
from agent.session import script
from agent.session.presynth import planned_utterances
from agent.session.speech import SpeechLibrary
from agent.session.state import InterviewPlan, InterviewState
from agent.tts_cache import CacheOptions, SharedSpeechCache
from agent.tts_cache.keys import RedisKeys
from signaling.runtime import Runtime
from tests.resume_factory import EN_RESUME, pdf_bytes

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_real_voice_streams_a_miss_and_serves_the_stored_audio_to_another_process_view(
    models: ModelRegistry, runtime: Runtime
) -> None:
    await models.preload(("tts",))
    prefix = f"t{uuid.uuid4().hex[:12]}"
    options = CacheOptions(prefix=prefix)
    redis = Redis.from_url(runtime.redis_url)
    first_cache = SharedSpeechCache(redis, options=options)
    second_cache = SharedSpeechCache(redis, options=options)  # another process, as far as it knows
    text = "Thank you for joining. Let's begin with your most recent project."
    korean = "감사합니다. 다음 질문입니다."
    try:
        speaker = SpeechLibrary(models.tts, first_cache)
        chunks = [chunk async for chunk in speaker.stream(text)]
        assert len(chunks) > 1  # streamed as piper made it, sentence by sentence
        assert speaker.synthesized == 1
        listener = SpeechLibrary(models.tts, second_cache)
        stored = await listener.get(" Thank you for joining.  Let's begin with your most recent project.")
        assert stored.pcm == b"".join(c.pcm for c in chunks)
        assert stored.sample_rate == chunks[0].sample_rate
        assert listener.synthesized == 0
        entry = await redis.hgetall(RedisKeys(prefix).audio(speaker.key(text)))
        assert int(entry[b"duration_ms"]) == round(stored.duration_s * 1000)
        # The Korean line goes to the Korean voice, under that voice's own key.
        spoken = await speaker.get(korean)
        assert spoken.duration_s > 0.5
        assert speaker.key(korean) != listener.key(text)
        assert (await listener.get(korean)).pcm == spoken.pcm
        assert (speaker.synthesized, listener.synthesized) == (2, 0)
    finally:
        await first_cache.aclose()
        await second_cache.aclose()
        await redis.aclose()


async def test_creating_an_interview_presynthesizes_its_lines(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert runtime.presynth is not None
    assert runtime.tts_cache is not None
    resp = await client.post(
        "/api/resumes", files={"file": ("r.pdf", pdf_bytes(EN_RESUME), "application/pdf")}
    )
    assert resp.status_code == 201, resp.text
    resp = await client.post(
        "/api/interviews", json={"resume_id": resp.json()["id"], "question_count": 2, "language": "en"}
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    await runtime.presynth.join()
    plan = InterviewPlan.of("en", [q["text"] for q in body["questions"]])
    library = SpeechLibrary(runtime.models.tts, runtime.tts_cache)
    for text in planned_utterances(plan):
        assert await runtime.tts_cache.get(library.key(text)) is not None, text
    # What the call says on joining is the first entry made, and a live call finds it at once.
    opening = await library.lookup(script.opening(plan, InterviewState()))
    assert opening is not None
    assert library.synthesized == 0
