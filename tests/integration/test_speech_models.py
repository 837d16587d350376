"""The real speech models on recorded audio: Whisper's error rates, incremental transcription against
one-shot, Piper and espeak-ng through Whisper, streaming and cancelled synthesis, and Silero's
segment boundaries.

The models load once for the module through a registry built from the suite's settings (so an
``INTERVIEWER_STT_PATH`` override is what gets measured). Fixture audio lives in ../shared; a clone
without it skips those cases with the reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from agent.models.base import Pcm16
from agent.models.registry import ModelRegistry
from agent.models.stt import FasterWhisperSTT
from agent.models.transcriber import IncrementalTranscriber
from agent.models.tts import EspeakOptions, EspeakTTS, PiperTTS
from agent.models.vad import SpeechEnded, SpeechSegmenter, SpeechStarted
from agent.text.repetition import has_loop
from signaling.runtime import model_paths
from signaling.settings import Settings
from tests.fixtures_paths import shared_fixture

pytestmark = pytest.mark.slow

RATE = 16_000
FRAME = 320

# Word error rates measured with Whisper base int8 (greedy, language given), with a margin of about
# one or two words of each clip: the clips have 8-95 words, so a single extra error moves a short
# clip's WER by 5-12 points, and the bound must tolerate that without hiding a broken pipeline (a
# wrong sample rate or language gives WER > 0.5). Measured: jfk 0.00, librispeech-0000 0.07,
# librispeech-0002 0.00, cheetah 0.00 (numbers spelled out), ljspeech 0.125 ("thereunder"), OSR
# (8 kHz telephone, 35 s, two windows) 0.00, earnings call (60 s, fillers in the reference) 0.115.
ENGLISH = {
    "jfk.flac": 0.10,
    "en_librispeech_1089-134686-0000.flac": 0.15,
    "en_librispeech_1089-134686-0002.flac": 0.10,
    "en_picovoice_cheetah_test_en.wav": 0.15,
    "en_ljspeech_LJ050-0131.wav": 0.20,
    "OSR_us_000_0034_8k.wav": 0.10,
    "en_earnings22_1_4482311_3_62.wav": 0.20,
}
_NUMBERS = dict(
    enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])
)


def _normalize(text: str) -> str:
    text = re.sub(r"\b(\d|10)\b", lambda m: _NUMBERS[int(m.group())], text.lower())
    return " ".join(re.sub(r"[^\w\s']", " ", text).split())


def _wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(_normalize(reference), _normalize(hypothesis)))


def _cer_korean(reference: str, hypothesis: str) -> float:
    def letters(text: str) -> str:
        return re.sub(r"[\s.,?!]", "", text)

    return float(jiwer.cer(letters(reference), letters(hypothesis)))


def _audio(name: str) -> tuple[Pcm16, str]:
    path = shared_fixture(f"audio/{name}")
    from faster_whisper.audio import decode_audio

    samples = decode_audio(str(path), sampling_rate=RATE)
    reference = Path(path).with_suffix(".txt").read_text(encoding="utf-8").strip()
    return (np.clip(samples, -1, 1) * 32767).astype(np.int16), reference


def _to_16k(pcm: bytes, rate: int) -> Pcm16:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    count = int(len(samples) * RATE / rate)
    # Linear interpolation is enough for speech going to Whisper's 8 kHz-wide features.
    return np.interp(np.arange(count) * rate / RATE, np.arange(len(samples)), samples).astype(np.int16)


@pytest.fixture(scope="module")
async def speech(settings: Settings) -> AsyncIterator[ModelRegistry]:
    registry = ModelRegistry(model_paths(settings))
    await registry.preload(("stt", "tts", "vad"))
    yield registry
    registry.close()


# --- Whisper ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "bound"), list(ENGLISH.items()))
async def test_whisper_english_error_rate(speech: ModelRegistry, name: str, bound: float) -> None:
    audio, reference = _audio(name)
    result = await speech.stt.transcribe(audio, language="en")
    wer = _wer(reference, result.text)
    print(f"{name}: WER {wer:.3f} in {result.seconds:.2f} s for {result.audio_s:.1f} s of audio")
    assert wer <= bound, result.text
    assert result.language == "en"
    assert result.segments
    assert all(s.start_s <= s.end_s <= result.audio_s for s in result.segments)


async def test_whisper_detects_the_language(speech: ModelRegistry) -> None:
    english, _ = _audio("jfk.flac")
    korean, _ = _audio("ko_picovoice_leopard_test_ko.wav")
    if "ko" not in getattr(speech.stt, "languages", {"ko"}):
        pytest.skip(f"STT model {speech.stt.info.name} is English-only")
    assert (await speech.stt.transcribe(english)).language == "en"
    assert (await speech.stt.transcribe(korean)).language == "ko"


async def test_whisper_korean_character_error_rate(speech: ModelRegistry) -> None:
    audio, reference = _audio("ko_picovoice_leopard_test_ko.wav")
    if "ko" not in getattr(speech.stt, "languages", {"ko"}):
        pytest.skip(f"STT model {speech.stt.info.name} is English-only")
    result = await speech.stt.transcribe(audio, language="ko")
    cer = _cer_korean(reference, result.text)
    print(f"Korean CER {cer:.3f}: {result.text}")
    # Measured 0.20: base hears 이리저리 as "1위절이", 4 of 20 letters; one more such word fits.
    assert cer <= 0.35, result.text


# --- incremental transcription ----------------------------------------------------------------------


async def test_incremental_transcript_matches_one_shot_on_a_minute_of_speech(speech: ModelRegistry) -> None:
    audio, reference = _audio("en_earnings22_1_4482311_3_62.wav")
    one_shot = await speech.stt.transcribe(audio, language="en")

    transcriber = IncrementalTranscriber(speech.stt, language="en")
    for start in range(0, len(audio), FRAME):
        transcriber.feed(audio[start : start + FRAME])
        if transcriber.unseen_s >= 1.0:
            await transcriber.update()
    final = await transcriber.finalize()

    one_wer, inc_wer = _wer(reference, one_shot.text), _wer(reference, final.text)
    print(
        f"one-shot WER {one_wer:.3f} in {one_shot.seconds:.2f} s; incremental WER {inc_wer:.3f}, "
        f"{transcriber.calls} calls, final {transcriber.last_final_s:.2f} s on "
        f"{transcriber.last_final_audio_s:.2f} s of audio"
    )
    # Measured equal (0.115 both). Cuts fall where Whisper placed segment ends or pauses, with the
    # committed text as the prompt, so they may change a word or two of ~95, not more: 0.05.
    assert inc_wer <= one_wer + 0.05, final.text
    # The final call sees only the uncommitted tail (measured 2.7 s of 59.6 s in November, 11.1 s
    # on this machine's CPU in December, not yet explained), a quarter of the audio at most ...
    assert transcriber.last_final_audio_s <= 15.0
    # ... a small part of the whole (measured 1.1 s for the final vs 4.2 s one-shot).
    assert transcriber.last_final_audio_s < 0.25 * one_shot.audio_s


async def test_update_at_the_pause_makes_the_final_transcript_free(speech: ModelRegistry) -> None:
    """The live pipeline in miniature: VAD events drive the transcriber; an update forced ~0.1 s
    into the closing silence is reused by finalize() once the VAD ends the turn."""
    speech_audio, reference = _audio("en_librispeech_1089-134686-0002.flac")
    silence = np.zeros(RATE, dtype=np.int16)
    stream = np.concatenate([silence, speech_audio, silence])
    segmenter = SpeechSegmenter(speech.new_vad())
    transcriber = IncrementalTranscriber(speech.stt, language="en")
    origin_s = 0.0
    forced = False
    ended: SpeechEnded | None = None
    for start in range(0, len(stream), FRAME):
        frame = stream[start : start + FRAME]
        was_speaking = segmenter.speaking
        for event in segmenter.push(frame):
            if isinstance(event, SpeechStarted):
                origin_s = segmenter.time_s - len(event.audio) / RATE
                transcriber.feed(event.audio)
            elif ended is None:
                ended = event
        if was_speaking and segmenter.speaking:
            transcriber.feed(frame)
            if transcriber.unseen_s >= 1.0:
                await transcriber.update()
            if segmenter.silence_s >= 0.1 and not forced:
                forced = True
                await transcriber.update(force=True)
        if ended is not None:
            break
    assert ended is not None

    calls_before = transcriber.calls
    final = await transcriber.finalize(voiced_until_s=ended.at_s - origin_s)

    # The update at the pause already covered the last voiced frame: no model call at the end.
    assert transcriber.last_final_audio_s == 0
    assert transcriber.calls == calls_before
    assert _wer(reference, final.text) <= 0.10, final.text


# --- TTS --------------------------------------------------------------------------------------------

THREE_SENTENCES = (
    "Thank you, that was a clear answer. "
    "Now I would like to hear about a time when a release went wrong. "
    "What did you do in the first hour?"
)


async def test_piper_round_trip_through_whisper(speech: ModelRegistry) -> None:
    text = "Could you tell me about a project you are proud of? What was your role in it?"
    clip = await speech.tts.synthesize(text, language="en")
    result = await speech.stt.transcribe(_to_16k(clip.pcm, clip.sample_rate), language="en")
    wer = _wer(text, result.text)
    print(f"piper -> whisper WER {wer:.3f}: {result.text}")
    # Measured 0.12: the only miss is "you are" heard as "you're" (two words against one).
    assert wer <= 0.20, result.text
    assert clip.sample_rate == 22_050
    assert 2.5 < clip.duration_s < 8.0


async def test_espeak_korean_is_audible_and_plausibly_long(speech: ModelRegistry) -> None:
    text = "자기소개를 간단히 해 주시겠어요? 지원하신 직무에 대해 말씀해 주세요."
    voice = speech.tts.voice("ko")
    clip = await speech.tts.synthesize(text, language="ko")
    samples = np.frombuffer(clip.pcm, dtype=np.int16).astype(np.float64)
    syllables = len(re.findall(r"[\uac00-\ud7a3]", text))
    assert np.sqrt(np.mean(samples**2)) > 500
    # Korean speech runs ~4-8 syllables a second; espeak-ng at 160 wpm is near the slow end.
    assert syllables / 10 < clip.duration_s < syllables / 2
    result = await speech.stt.transcribe(_to_16k(clip.pcm, clip.sample_rate), language="ko")
    # Not asserted: Whisper base barely understands espeak-ng's Korean (measured CER 0.84 here, and
    # a repetition loop on another sentence). A neural Korean voice should replace it.
    print(f"{voice.info.name} -> whisper CER {_cer_korean(text, result.text):.2f}: {result.text}")


# A recording that makes Whisper base loop: espeak-ng's Korean read slowly. Found while measuring the
# Korean voice (bench/korean_speech.py): decoded as before, it comes back as "그는 그는 그는 ..."
# to the end of the window.
LOOPING_LINE = "응답 속도를 30% 개선하신 과정이 궁금해요."


async def test_repetition_loop_is_removed_on_a_recording_that_triggers_it(speech: ModelRegistry) -> None:
    if "ko" not in getattr(speech.stt, "languages", {"ko"}):
        pytest.skip(f"STT model {speech.stt.info.name} is English-only")
    voice = EspeakTTS.load(info=speech.tts.voice("ko").info, options=EspeakOptions(words_per_minute=120))
    clip = await voice.synthesize(LOOPING_LINE)
    voice.close()
    audio = _to_16k(clip.pcm, clip.sample_rate)
    stt = speech.stt
    assert isinstance(stt, FasterWhisperSTT)
    model = stt._model
    assert model is not None
    # Decoded the old way (the whole clip, nothing collapsed): the loop is there, or this recording
    # no longer tests anything.
    segments, _ = model.transcribe(
        audio.astype(np.float32) / 32768.0,
        language="ko",
        beam_size=1,
        temperature=0,
        condition_on_previous_text=False,
        vad_filter=False,
    )
    unguarded = " ".join(s.text.strip() for s in segments)
    print(f"unguarded: {unguarded}")
    assert has_loop(unguarded), unguarded
    result = await stt.transcribe(audio, language="ko")
    print(f"guarded: {result.text}")
    assert not has_loop(result.text), result.text
    assert result.text.count("그는") <= 2, result.text
    assert all(s.start_s <= s.end_s <= result.audio_s for s in result.segments)


async def test_first_chunk_arrives_long_before_the_whole_text(speech: ModelRegistry) -> None:
    chunks = [chunk async for chunk in speech.tts.stream(THREE_SENTENCES, language="en")]
    audio_s = sum(chunk.duration_s for chunk in chunks)
    # Streamed piece by piece (measured first chunk after 0.17-0.22 s of 0.72 s in the benchmark):
    # the first chunk is a part of the first sentence, not the whole text at the end.
    assert len(chunks) >= 3
    assert chunks[0].duration_s < audio_s / 3
    assert audio_s > 5.0


async def test_cancelling_the_listener_stops_synthesis(
    speech: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = speech.tts.voice("en")
    assert isinstance(voice, PiperTTS)
    engine = voice._voice
    assert engine is not None
    pieces: list[str] = []
    real_synthesize = engine.synthesize

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        pieces.append(text)
        return real_synthesize(text, *args, **kwargs)

    monkeypatch.setattr(engine, "synthesize", counting)
    long_text = " ".join(f"This is sentence number {i} of a long reply." for i in range(12))
    async for _ in voice.stream(long_text):
        break
    # The next call runs on the same single thread, so it returns only after the abandoned
    # synthesis has stopped: at most one more piece was started after the listener left.
    await voice.synthesize("Next.")
    assert pieces[-1] == "Next."
    assert len(pieces) - 1 <= 2


# --- VAD --------------------------------------------------------------------------------------------


def _energy_bounds(audio: Pcm16) -> tuple[float, float]:
    """Where the clip's own speech starts and ends: 20 ms frames within 30 dB of the loudest."""
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = np.nonzero(rms > rms.max() * 10 ** (-30 / 20))[0]
    return loud[0] * FRAME / RATE, (loud[-1] + 1) * FRAME / RATE


@pytest.mark.parametrize(
    "name",
    [
        "en_librispeech_1089-134686-0002.flac",
        "en_picovoice_cheetah_test_en.wav",
        "ko_picovoice_leopard_test_ko.wav",
    ],
)
async def test_vad_finds_the_speech_between_padding(speech: ModelRegistry, name: str) -> None:
    audio, _ = _audio(name)
    speech_start, speech_end = _energy_bounds(audio)
    padding = np.zeros(RATE, dtype=np.int16)
    stream = np.concatenate([padding, audio, padding])
    segmenter = SpeechSegmenter(speech.new_vad())
    events: list[SpeechStarted | SpeechEnded] = []
    start = time.perf_counter()
    for offset in range(0, len(stream), FRAME):
        events += segmenter.push(stream[offset : offset + FRAME])
    per_frame_ms = (time.perf_counter() - start) / (len(stream) / FRAME) * 1000
    print(f"{name}: {[(type(e).__name__, round(e.at_s, 2)) for e in events]}, {per_frame_ms:.3f} ms/frame")

    started, ended = events
    assert isinstance(started, SpeechStarted)
    assert isinstance(ended, SpeechEnded)
    # Measured within 0.02-0.18 s of the clips' own speech (Silero's score decays after the last
    # phoneme); 0.3 s is the bound the turn-taking budget can afford.
    assert abs(started.at_s - (1.0 + speech_start)) <= 0.3
    assert abs(ended.at_s - (1.0 + speech_end)) <= 0.3
    assert ended.detected_s - ended.at_s == pytest.approx(0.3, abs=0.04)
    # Its cost (~0.1 ms a frame, printed above) is a figure, not a pass/fail here: timing goals live
    # in the benchmarks, this machine is shared.
