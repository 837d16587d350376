"""A patient interviewer, end to end: real aiortc on loopback, real Whisper, VAD and voices, real
Postgres and Redis. Answers are recordings played in real time with their pauses kept; the requests
and backchannels the fixtures lack are said by the project's own voice (piper), written to files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from evaluation.answers import group_answers, view_of
from media.files import FileAudioTrack
from signaling import harness
from signaling.app import create_app
from signaling.background import serve_in_background
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.fixtures_paths import shared_fixture
from tests.integration.test_call_e2e import _create, _interviewer_turn, _join, _Recorder
from tests.resume_factory import EN_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SENTENCE = "audio/en_librispeech_1089-134686-0002.flac"
"""One complete read sentence (6.6 s)."""
LONG = "audio/en_librispeech_1089-134686-0000.flac"
"""A long read sentence (10 s, 28 words): long enough to be a whole answer."""
SHORT = "audio/en_picovoice_cheetah_test_en.wav"


@pytest.fixture(scope="module")
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    async with serve_in_background(create_app(settings, runtime=runtime), lifespan="off") as url:
        yield url
        if runtime.calls is not None:
            await runtime.calls.close()


@pytest.fixture
def resume_file(tmp_path: Path) -> Path:
    path = tmp_path / "jane.txt"
    path.write_text(EN_RESUME)
    return path


async def _said(runtime: Runtime, text: str, path: Path) -> Path:
    """``text`` in the project's own voice, as a file the harness can play."""
    audio = await runtime.models.tts.synthesize(text)
    samples = np.frombuffer(audio.pcm, dtype=np.int16)
    padded = np.concatenate([np.zeros(audio.sample_rate // 5, np.int16), samples])
    await asyncio.to_thread(sf.write, path, padded, audio.sample_rate)
    return path


def _answers(transcript: list[dict[str, Any]]) -> list[Any]:
    return group_answers(
        view_of(
            seq=t["seq"],
            speaker=t["speaker"],
            text=t["text"],
            latencies={**t["latencies"], "kind": t.get("kind"), "interrupted": t.get("interrupted")},
            question_index=t["question_index"],
        )
        for t in transcript
    )


def _interviewer(transcript: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in transcript if t["speaker"] == "interviewer"]


async def test_a_pause_after_a_complete_sentence_stays_one_answer(server: str, resume_file: Path) -> None:
    answer = harness.SpokenAnswer(parts=(shared_fixture(SENTENCE), 1.5, shared_fixture(LONG)))
    result = await harness.run(
        harness.HarnessOptions(base_url=server, resume=resume_file, answers=(answer,), follow_ups=False)
    )
    assert result.ended, result.events
    assert result.turns[0].cutoffs == 0, result.transcript
    answers = _answers(result.transcript)
    assert len(answers) == 1, answers
    # Both sentences are in it: "stew for dinner" is in the second recording only.
    assert "stew" in answers[0].text.lower()
    assert "dinner" in answers[0].text.lower()
    # The sentence is complete, so the interviewer may begin its line during the pause (a 1.0 s
    # wait); when the candidate goes on first, that line is given back before the candidate hears
    # it (no cutoff, above), and the closing line is said once, whole, after the whole answer.
    lines = _interviewer(result.transcript)
    assert all(t["question_index"] == 0 for t in lines if t["interrupted"]), lines
    closing = [t for t in lines if t["kind"] == "close" and not t["interrupted"]]
    assert len(closing) == 1, lines
    assert closing[0] is lines[-1], lines


async def test_resuming_after_the_interviewer_started_keeps_the_question(
    server: str, resume_file: Path
) -> None:
    first = harness.SpokenAnswer(
        parts=(shared_fixture(LONG),), resume=(shared_fixture(SHORT),), resume_delay_s=0.8
    )
    result = await harness.run(
        harness.HarnessOptions(
            base_url=server, resume=resume_file, answers=(first, shared_fixture(SENTENCE)), follow_ups=False
        )
    )
    assert result.ended, result.events
    turn = result.turns[0]
    # The control: the interviewer did begin its next line before the candidate went on.
    assert turn.interviewer_started_before_resume, result.transcript
    lines = _interviewer(result.transcript)
    cut = [t for t in lines if t["interrupted"]]
    assert len(cut) == 1, lines
    assert cut[0]["question_index"] == 0  # given back: the plan did not move
    asked = [t for t in lines if t["kind"] == "next" and not t["interrupted"]]
    assert [t["question_index"] for t in asked] == [1]  # asked again, once, after the whole answer
    answers = _answers(result.transcript)
    assert [str(a.key) for a in answers] == ["0.0", "1.0"]
    assert len(answers[0].turns) >= 2  # the resumed part joined the same answer
    assert turn.resume_stop_s is not None


async def test_repeat_request_repeats_without_advancing(
    server: str, resume_file: Path, runtime: Runtime, tmp_path: Path
) -> None:
    request = await _said(runtime, "Sorry, could you repeat the question?", tmp_path / "repeat.wav")
    result = await harness.run(
        harness.HarnessOptions(
            base_url=server,
            resume=resume_file,
            answers=(request, shared_fixture(LONG)),
            question_count=1,
            follow_ups=False,
        )
    )
    assert result.ended, result.events
    lines = _interviewer(result.transcript)
    assert lines[1]["kind"] == "repeat", lines
    assert lines[1]["question_index"] == 0
    question = lines[0]["text"].split(". ")[-1]
    assert question[:20] in lines[1]["text"]
    candidate = [t for t in result.transcript if t["speaker"] == "candidate"]
    assert candidate[0]["kind"] == "request"


async def test_silence_after_a_question_gets_a_gentle_prompt(server: str, resume_file: Path) -> None:
    interview = await _create(server, resume_file)
    recorder = _Recorder()
    pc, events = await _join(server, interview, FileAudioTrack(), recorder)
    asked = await _interviewer_turn(events)
    prompt = await _interviewer_turn(events, limit_s=30)
    await pc.close()
    assert asked["question_index"] == 0
    assert prompt["kind"] == "prompt", prompt
    assert prompt["text"] == "Take your time."
    assert prompt["question_index"] == 0
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        state = (
            await http.get(f"/api/interviews/{interview['id']}", params={"token": interview["join_token"]})
        ).json()
    assert state["current_question"] == 0


async def test_backchannel_during_the_question_does_not_stop_it(
    server: str, resume_file: Path, runtime: Runtime, tmp_path: Path
) -> None:
    okay = await _said(runtime, "Okay.", tmp_path / "okay.wav")
    first = harness.SpokenAnswer(parts=(shared_fixture(LONG),), backchannel=okay, backchannel_delay_s=3.6)
    result = await harness.run(
        harness.HarnessOptions(
            base_url=server, resume=resume_file, answers=(first, shared_fixture(SENTENCE)), follow_ups=False
        )
    )
    assert result.ended, result.events
    assert result.turns[0].backchannel_stopped is False
    assert not any(t["interrupted"] for t in _interviewer(result.transcript))
    candidate = [t["text"].strip(" .").lower() for t in result.transcript if t["speaker"] == "candidate"]
    assert "okay" not in candidate
