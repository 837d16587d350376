"""Whisper repetition loops are collapsed; a person's repeated words are not."""

from __future__ import annotations

import numpy as np
import pytest

from agent.models.base import TranscriptSegment, TranscriptWord
from agent.models.stt import collapse_loops, token_budget, voiced_end
from agent.text.repetition import collapse_repeats, has_loop


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("그는 길 한 옆으로 걸어갔다. " + "자, " * 40 + "자.", "그는 길 한 옆으로 걸어갔다. 자."),
        ("Thank you. " * 6, "Thank you."),
        ("I don't know. I don't know. I don't know. I don't know.", "I don't know."),
        ("감사합니다. 감사합니다. 감사합니다. 감사합니다. 감사합니다.", "감사합니다."),
        ("the the the the the cache was cold", "the cache was cold"),
        ("배포 시간을 줄였고 배포 시간을 줄였고 배포 시간을 줄였고 그 결과", "배포 시간을 줄였고 그 결과"),
        # Both measured from Whisper base on espeak-ng's Korean (bench/korean_speech.py).
        ("그는 " * 30, "그는"),
        ("그는 " * 30 + "그", "그는"),  # the window ended mid-word
        ("3,4,3,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4", "3,4,3,4,4"),
    ],
)
def test_loops_are_kept_once(text: str, expected: str) -> None:
    assert collapse_repeats(text) == expected
    assert has_loop(text)


@pytest.mark.parametrize(
    "text",
    [
        "It was very very slow before the cache.",
        "No, no, no, that was the old design.",
        "아주 아주 느렸습니다.",
        "네, 네, 맞습니다.",
        "We measured p50, p95 and p99 latency.",
        "I said that that was wrong.",
        "We served 1,000,000 requests and 3,4,5 replicas.",
        "",
    ],
)
def test_people_repeating_themselves_are_left_alone(text: str) -> None:
    assert collapse_repeats(text) == " ".join(text.split())
    assert not has_loop(text)


# --- inside the STT adapter ------------------------------------------------------------------------

RATE = 16_000


def _tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def test_quiet_tail_is_trimmed_to_the_voice_plus_a_margin() -> None:
    rng = np.random.default_rng(0)
    voice = _tone(1.5, 8000)
    tail = rng.normal(0, 100, 4 * RATE).astype(np.int16)  # low line noise, ~38 dB down
    end = voiced_end(np.concatenate([voice, tail]), RATE)
    assert len(voice) < end <= len(voice) + round(0.35 * RATE)


def test_loud_or_short_tails_are_kept() -> None:
    speech = np.concatenate([_tone(1.0, 8000), _tone(2.0, 4000)])  # a softer second phrase
    assert voiced_end(speech, RATE) == len(speech)
    short = np.concatenate([_tone(1.0, 8000), np.zeros(RATE // 4, dtype=np.int16)])
    assert voiced_end(short, RATE) == len(short)
    assert voiced_end(np.zeros(RATE, dtype=np.int16), RATE) == RATE


def test_a_loop_across_segments_is_kept_once() -> None:
    words = [TranscriptWord(0.0, 0.5, " 그는"), TranscriptWord(0.5, 1.0, " 걸어갔다.")]
    first = TranscriptSegment(0.0, 1.0, "그는 걸어갔다.", tuple(words))
    loop = [
        TranscriptSegment(1.0 + i, 2.0 + i, "자, 자,", (TranscriptWord(1.0 + i, 1.5 + i, " 자,"),) * 2)
        for i in range(10)
    ]
    parts = collapse_loops((first, *loop))
    assert " ".join(p.text for p in parts) == "그는 걸어갔다. 자,"
    assert parts[0] == first


def test_segments_without_a_loop_are_returned_as_they_are() -> None:
    parts = (TranscriptSegment(0.0, 1.0, "very very slow", ()),)
    assert collapse_loops(parts) is parts


def test_token_budget_grows_with_the_audio_up_to_the_window() -> None:
    assert token_budget(0.0) == 10
    assert token_budget(6.0) == 130  # a 6 s clip: room for 20 tokens a second
    assert token_budget(30.0) == 444  # the window less the three start tokens and one for the end
    assert token_budget(30.0, prompt_tokens=227) == 220  # a long prompt takes its share
