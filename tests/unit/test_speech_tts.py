"""Text splitting, the espeak-ng voice (real, ~10 ms a call), the Coqui adapter against a stand-in
``TTS.api`` module, and the language router over fake voices."""

from __future__ import annotations

import asyncio
import io
import shutil
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from agent.errors import InvalidInputError, ModelError, ModelUnavailableError
from agent.models.base import ModelInfo, TextToSpeech
from agent.models.tts import (
    CoquiOptions,
    CoquiTTS,
    EspeakOptions,
    EspeakTTS,
    MultiLanguageTTS,
    _read_wav_header,
    detect_language,
    split_sentences,
)


def _info(name: str, role: str = "tts") -> ModelInfo:
    return ModelInfo(role=role, name=name, path="-", provider="tests", size_bytes=0)


# --- text -------------------------------------------------------------------------------------------


def test_sentences_are_split_at_their_ends() -> None:
    text = "Thanks for that. Could you say more?  Take your time!"
    assert split_sentences(text) == ["Thanks for that.", "Could you say more?", "Take your time!"]


def test_abbreviations_initials_and_decimals_do_not_end_sentences() -> None:
    text = "Dr. Kim joined J. Smith at Acme Inc. in 2019. Latency fell by 3.5 ms, e.g. on writes."
    assert split_sentences(text) == [
        "Dr. Kim joined J. Smith at Acme Inc. in 2019.",
        "Latency fell by 3.5 ms, e.g. on writes.",
    ]


def test_a_long_first_sentence_is_spoken_from_its_first_clause() -> None:
    text = (
        "That is a very interesting migration story, and I would like to hear how you tested it. "
        "What broke first?"
    )
    assert split_sentences(text) == [
        "That is a very interesting migration story,",
        "and I would like to hear how you tested it.",
        "What broke first?",
    ]


def test_short_first_sentences_and_later_ones_stay_whole() -> None:
    text = "Good, thanks. Next, tell me about a time you disagreed with a teammate, and how it ended."
    assert split_sentences(text) == [
        "Good, thanks.",
        "Next, tell me about a time you disagreed with a teammate, and how it ended.",
    ]


def test_korean_sentences_and_clauses() -> None:
    question = (
        "그 프로젝트에서 데이터베이스 마이그레이션을 어떻게 처리하셨는지, "
        "그리고 다시 한다면 무엇을 바꾸실지 말씀해 주시겠어요?"
    )
    text = f"좋습니다. {question} 천천히 하세요."
    assert split_sentences(text, "ko") == ["좋습니다.", question, "천천히 하세요."]
    assert split_sentences(question, "ko") == [
        "그 프로젝트에서 데이터베이스 마이그레이션을 어떻게 처리하셨는지,",
        "그리고 다시 한다면 무엇을 바꾸실지 말씀해 주시겠어요?",
    ]


def test_text_without_an_end_mark_and_empty_text() -> None:
    assert split_sentences("  so that was it  ") == ["so that was it"]
    assert split_sentences(" \n ") == []


def test_detect_language() -> None:
    assert detect_language("Tell me about Kafka.") == "en"
    assert detect_language("Python과 Django를 주로 사용했습니다.") == "ko"
    assert detect_language("") == "en"


# --- WAV parsing ------------------------------------------------------------------------------------


def _wav_header(rate: int = 22_050, channels: int = 1, bits: int = 16, extra: bytes = b"") -> bytes:
    fmt = (
        (1).to_bytes(2, "little")
        + channels.to_bytes(2, "little")
        + rate.to_bytes(4, "little")
        + (rate * channels * bits // 8).to_bytes(4, "little")
        + (channels * bits // 8).to_bytes(2, "little")
        + bits.to_bytes(2, "little")
    )
    return (
        b"RIFF\xff\xff\xff\x7fWAVE"
        + b"fmt "
        + len(fmt).to_bytes(4, "little")
        + fmt
        + extra
        + b"data\xff\xff\xff\x7f"
    )


def test_streamed_wav_header_is_parsed_to_the_data() -> None:
    odd_chunk = b"LIST" + (3).to_bytes(4, "little") + b"abc\x00"
    stream = io.BytesIO(_wav_header(16_000, extra=odd_chunk) + b"\x01\x02")
    assert _read_wav_header(stream) == 16_000
    assert stream.read() == b"\x01\x02"
    assert _read_wav_header(io.BytesIO(b"not a wav file")) is None
    with pytest.raises(ModelError, match="16-bit mono"):
        _read_wav_header(io.BytesIO(_wav_header(channels=2)))


# --- espeak-ng --------------------------------------------------------------------------------------

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@needs_espeak
async def test_espeak_speaks_korean() -> None:
    tts = EspeakTTS.load(info=_info("espeak-ng-ko", "tts_ko"))
    assert tts.languages == {"ko"}
    audio = await tts.synthesize("안녕하세요. 면접을 시작하겠습니다.")
    samples = np.frombuffer(audio.pcm, dtype=np.int16)
    assert audio.sample_rate == 22_050
    assert 1.0 < audio.duration_s < 6.0
    assert np.abs(samples).max() > 3000
    tts.close()


def test_espeak_korean_text_is_written_as_korean_reads_it() -> None:
    tts = EspeakTTS(info=_info("espeak-ng-ko", "tts_ko"))
    prepared = tts.prepare("Spring Boot로, 응답 속도를 30% 개선하셨죠? 2019년 & <끝>")
    assert prepared == (
        '스프링 부트로,<break time="400ms"/> 응답 속도를 삼십 퍼센트 개선하셨죠? 이천십구년 앤 &lt;끝&gt;'
    )
    plain = EspeakTTS(
        info=_info("espeak-ng-ko", "tts_ko"), options=EspeakOptions(speak_korean=False, clause_pause_ms=0)
    )
    assert plain.prepare("API, 30%.") == "API, 30%."
    english = EspeakTTS(info=_info("espeak-ng-en"), options=EspeakOptions(voice="en", clause_pause_ms=0))
    assert english.prepare("API 30%") == "API 30%"  # only the Korean voice reads Latin in Korean


@needs_espeak
async def test_espeak_clause_pauses_lengthen_the_audio() -> None:
    text = "네, 좋습니다. 그럼, 다음 질문으로, 넘어가겠습니다."
    paused = await EspeakTTS.load(info=_info("espeak-ng-ko", "tts_ko")).synthesize(text)
    unpaused = EspeakOptions(clause_pause_ms=0)
    plain = await EspeakTTS.load(info=_info("espeak-ng-ko", "tts_ko"), options=unpaused).synthesize(text)
    # Three commas: each break is 0.4 s where espeak-ng alone pauses ~0.2 s.
    assert paused.duration_s > plain.duration_s + 0.3


@needs_espeak
async def test_espeak_stops_when_the_listener_goes_away() -> None:
    tts = EspeakTTS.load(info=_info("espeak-ng-ko", "tts_ko"), options=EspeakOptions(chunk_s=0.05))
    long_text = "이것은 아주 긴 문장입니다. " * 200

    async def first_chunk_only() -> None:
        async for _ in tts.stream(long_text):
            break

    # Leaving the stream returns only once espeak-ng has ended. Unless it is killed, it cannot end:
    # nobody reads its minutes of audio, so it blocks on a full pipe. The wait is a hang guard, not
    # a speed goal.
    await asyncio.wait_for(first_chunk_only(), 60)
    short = await tts.synthesize("네.")
    assert short.duration_s > 0.1
    tts.close()


@needs_espeak
def test_espeak_problems_are_unavailable_models() -> None:
    with pytest.raises(ModelUnavailableError, match="apt-get install espeak-ng"):
        EspeakTTS.load(info=_info("x"), options=EspeakOptions(executable="espeak-ng-not-here"))
    with pytest.raises(ModelUnavailableError, match="no voice"):
        EspeakTTS.load(info=_info("x"), options=EspeakOptions(voice="no-such-voice-xx"))


# --- Coqui ------------------------------------------------------------------------------------------


def test_coqui_without_its_package_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text("{}")
    # None in sys.modules makes the import fail whether or not coqui-tts is installed.
    monkeypatch.setitem(sys.modules, "TTS.api", None)
    with pytest.raises(ModelUnavailableError, match="pip install coqui-tts"):
        CoquiTTS.load(info=_info("coqui"), model_dir=tmp_path, language="ko")
    with pytest.raises(ModelUnavailableError, match=r"config\.json"):
        CoquiTTS.load(info=_info("coqui"), model_dir=tmp_path / "absent", language="ko")


class _StandInCoqui:
    """The slice of ``TTS.api.TTS`` the adapter uses."""

    instances: ClassVar[list[_StandInCoqui]] = []

    def __init__(self, *, model_path: str, config_path: str, progress_bar: bool) -> None:
        self.model_path = model_path
        self.config_path = config_path
        self.is_multi_lingual = True
        self.synthesizer = types.SimpleNamespace(output_sample_rate=24_000)
        self.calls: list[dict[str, Any]] = []
        _StandInCoqui.instances.append(self)

    def tts(self, *, text: str, **options: Any) -> list[float]:
        self.calls.append({"text": text, **options})
        return [0.5] * 2400  # 0.1 s per piece


async def test_coqui_adapter_streams_pieces_at_the_model_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.pth").write_bytes(b"")
    api = types.ModuleType("TTS.api")
    api.TTS = _StandInCoqui  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "TTS", types.ModuleType("TTS"))
    monkeypatch.setitem(sys.modules, "TTS.api", api)

    tts = CoquiTTS.load(
        info=_info("xtts"), model_dir=tmp_path, language="ko", options=CoquiOptions(speaker="Ana")
    )
    chunks = [chunk async for chunk in tts.stream("첫 번째 문장입니다. 두 번째 문장입니다.")]

    model = _StandInCoqui.instances[-1]
    assert model.model_path == str(tmp_path / "model.pth")
    assert [call["text"] for call in model.calls] == ["첫 번째 문장입니다.", "두 번째 문장입니다."]
    assert model.calls[0]["language"] == "ko"
    assert model.calls[0]["speaker"] == "Ana"
    assert all(chunk.sample_rate == 24_000 for chunk in chunks)
    assert sum(chunk.duration_s for chunk in chunks) == pytest.approx(0.2)
    assert chunks[-1].final
    assert np.frombuffer(chunks[0].pcm, dtype=np.int16)[0] == int(0.5 * 32767)
    tts.close()


# --- routing ----------------------------------------------------------------------------------------


class _Tone(TextToSpeech):
    """A fake voice: 0.1 s of a constant per sentence."""

    def __init__(self, name: str, language: str, sample_rate: int) -> None:
        super().__init__(_info(name), timeout_s=5)
        self.languages = frozenset({language})
        self.sample_rate = sample_rate
        self.texts: list[str] = []

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        self.texts.append(text)
        for _ in split_sentences(text):
            yield np.full(self.sample_rate // 10, 1000, dtype=np.int16).tobytes()


async def test_router_picks_the_voice_by_language() -> None:
    english, korean = _Tone("piper", "en", 22_050), _Tone("espeak", "ko", 16_000)
    router = MultiLanguageTTS({"en": english, "ko": korean})
    assert router.languages == {"en", "ko"}
    assert router.info.name == "piper+espeak"

    spoken = [c async for c in router.stream("감사합니다. 다음 질문입니다.")]
    assert korean.texts == ["감사합니다. 다음 질문입니다."]
    assert {c.sample_rate for c in spoken} == {16_000}
    assert spoken[-1].final

    clip = await router.synthesize("Thank you.", language="en")
    assert clip.sample_rate == 22_050
    assert english.texts == ["Thank you."]
    # The caller's language wins over the guess from the text.
    await router.synthesize("Kafka", language="ko")
    assert korean.texts[-1] == "Kafka"

    with pytest.raises(InvalidInputError, match="ja"):
        router.voice("ja")
    with pytest.raises(ValueError, match="default"):
        MultiLanguageTTS({"ko": korean})
    router.close()
