"""The speech segmenter's state machine on scripted probabilities, and the real Silero detector on
synthetic audio (it loads in ~40 ms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.models.base import ModelInfo, Pcm16, VoiceActivityDetector
from agent.models.registry import ModelPaths, locate
from agent.models.vad import SegmenterOptions, SileroVAD, SpeechEnded, SpeechSegmenter, SpeechStarted

WINDOW = 512
WINDOW_S = WINDOW / 16_000


class ScriptedVAD(VoiceActivityDetector):
    """Probability per window from a list; the audio itself is ignored."""

    def __init__(self, probabilities: list[float]) -> None:
        super().__init__(
            ModelInfo(role="vad", name="scripted", path="-", provider="tests", size_bytes=0), timeout_s=1
        )
        self.probabilities = probabilities
        self.index = 0
        self.resets = 0

    def _probability_impl(self, frame: Pcm16) -> float:
        value = self.probabilities[self.index] if self.index < len(self.probabilities) else 0.0
        self.index += 1
        return value

    def reset(self) -> None:
        self.index = 0
        self.resets += 1


def _run(
    probabilities: list[float], *, frame: int = 320, options: SegmenterOptions | None = None
) -> tuple[SpeechSegmenter, list[SpeechStarted | SpeechEnded]]:
    vad = ScriptedVAD(probabilities)
    segmenter = SpeechSegmenter(vad, options)
    audio = np.arange(len(probabilities) * WINDOW, dtype=np.int64).astype(np.int16)
    events: list[SpeechStarted | SpeechEnded] = []
    for start in range(0, len(audio), frame):
        events += segmenter.push(audio[start : start + frame])
    return segmenter, events


def test_one_segment_with_start_end_and_latency_times() -> None:
    # 10 windows of silence, 20 of speech, 15 of silence.
    segmenter, events = _run([0.0] * 10 + [0.9] * 20 + [0.1] * 15)
    started, ended = events
    assert isinstance(started, SpeechStarted)
    assert isinstance(ended, SpeechEnded)
    assert started.at_s == pytest.approx(10 * WINDOW_S)
    # Confirmed after min_speech_s (0.25 s = 8 windows of 32 ms).
    assert started.detected_s == pytest.approx(18 * WINDOW_S)
    assert ended.at_s == pytest.approx(30 * WINDOW_S)
    assert ended.speech_s == pytest.approx(20 * WINDOW_S)
    # min_silence_s 0.3 s = 10 windows after the last voiced one.
    assert ended.detected_s == pytest.approx(40 * WINDOW_S)
    assert not segmenter.speaking


def test_started_event_carries_pre_roll_and_speech_so_far() -> None:
    segmenter, events = _run([0.0] * 20 + [0.9] * 12, frame=320)
    started = events[0]
    assert isinstance(started, SpeechStarted)
    start_sample = 20 * WINDOW - round(0.3 * 16_000)
    # Everything pushed so far from the pre-roll on, the frame that confirmed the speech included.
    pushed = segmenter.time_s * 16_000
    frames_until_detection = -(-(28 * WINDOW) // 320) * 320
    assert len(started.audio) == frames_until_detection - start_sample
    assert int(started.audio[0]) == np.int16(start_sample)
    assert pushed >= frames_until_detection


def test_a_short_blip_is_not_speech() -> None:
    _, events = _run([0.0] * 5 + [0.95] * 5 + [0.0] * 20)
    assert events == []


def test_hysteresis_keeps_a_segment_through_middling_windows() -> None:
    # Once speaking, 0.4 (between 0.35 and 0.5) is still speech; a short dip does not end it.
    _, events = _run([0.9] * 10 + [0.4] * 10 + [0.1] * 5 + [0.9] * 5 + [0.0] * 12)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    assert events[1].at_s == pytest.approx(30 * WINDOW_S)


def test_middling_windows_alone_start_nothing() -> None:
    _, events = _run([0.45] * 30)
    assert events == []


def test_min_silence_is_configurable() -> None:
    probabilities = [0.9] * 10 + [0.0] * 12 + [0.9] * 10 + [0.0] * 30
    _, short = _run(probabilities, options=SegmenterOptions(min_silence_s=0.3))
    _, long = _run(probabilities, options=SegmenterOptions(min_silence_s=0.5))
    assert [type(e) for e in short] == [SpeechStarted, SpeechEnded] * 2
    assert [type(e) for e in long] == [SpeechStarted, SpeechEnded]


def test_frame_size_does_not_change_the_events() -> None:
    probabilities = [0.0] * 7 + [0.8] * 25 + [0.0] * 14
    _, by_20ms = _run(probabilities, frame=320)
    _, by_odd = _run(probabilities, frame=1000)
    assert [(type(e), e.at_s, e.detected_s) for e in by_20ms] == [
        (type(e), e.at_s, e.detected_s) for e in by_odd
    ]


def test_silence_s_flush_and_reset() -> None:
    segmenter, events = _run([0.9] * 12 + [0.0] * 4)
    assert [type(e) for e in events] == [SpeechStarted]
    assert segmenter.speaking
    assert segmenter.silence_s == pytest.approx(4 * WINDOW_S)
    (ended,) = segmenter.flush()
    assert isinstance(ended, SpeechEnded)
    assert ended.at_s == pytest.approx(12 * WINDOW_S)
    assert segmenter.flush() == []
    segmenter.reset()
    assert segmenter.time_s == 0
    assert segmenter.silence_s == 0
    assert isinstance(segmenter.vad, ScriptedVAD)
    assert segmenter.vad.resets == 2


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="deactivation"):
        SegmenterOptions(activation=0.3, deactivation=0.5)
    with pytest.raises(ValueError, match="negative"):
        SegmenterOptions(min_silence_s=-1)


def test_push_checks_frames() -> None:
    segmenter = SpeechSegmenter(ScriptedVAD([]))
    with pytest.raises(ValueError, match="int16"):
        segmenter.push(np.zeros(320, dtype=np.float64))
    assert segmenter.push(np.zeros(0, dtype=np.int16)) == []


# --- the real detector -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def silero_info() -> ModelInfo:
    return locate("vad", ModelPaths(data_dir=Path("/nonexistent")))


def test_silero_scores_silence_and_noise_low(silero_info: ModelInfo) -> None:
    vad = SileroVAD.load(info=silero_info)
    silence = np.zeros(WINDOW, dtype=np.int16)
    rng = np.random.default_rng(0)
    quiet = [vad.probability(silence) for _ in range(10)]
    hiss = [vad.probability((rng.standard_normal(WINDOW) * 300).astype(np.int16)) for _ in range(30)]
    assert max(quiet) < 0.05
    # Steady hiss scores well below the threshold that keeps a segment going.
    assert max(hiss) < SegmenterOptions().deactivation
    vad.reset()
    with pytest.raises(ValueError, match="512"):
        vad.probability(np.zeros(320, dtype=np.int16))
    vad.close()


def test_silero_instances_are_independent(silero_info: ModelInfo) -> None:
    first, second = SileroVAD.load(info=silero_info), SileroVAD.load(info=silero_info)
    assert first._vad is not second._vad
    assert first.info.load_s > 0
    first.close()
    second.close()
