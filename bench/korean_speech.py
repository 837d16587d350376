"""Korean speech figures: Whisper base on the Korean fixtures (CER, repetition loops, with the clips
followed by quiet line noise as on a phone call) and the espeak-ng Korean voice read back by Whisper
before and after its Korean readings, slower rate and clause pauses.

    .venv/bin/python -m bench.korean_speech

Last line: ko_cer repetition_loops repetition_loops_unguarded loop_transcript_s
loop_transcript_unguarded_s ko_tts_roundtrip_cer_before ko_tts_roundtrip_cer_after
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np

from agent.models.base import ModelInfo
from agent.models.registry import ModelRegistry
from agent.models.stt import FasterWhisperSTT
from agent.models.tts import EspeakOptions, EspeakTTS
from agent.text.korean import speakable
from agent.text.repetition import has_loop
from signaling.runtime import model_paths
from signaling.settings import load_settings
from tests.fixtures_paths import PROJECT_FIXTURES, SHARED_FIXTURES

RATE = 16_000
_ESPEAK_INFO = ModelInfo(
    role="tts_ko",
    name="espeak-ng-ko",
    path="espeak-ng",
    provider="bench",
    size_bytes=0,
    load_s=0.0,
    details={},
)
LINES = [
    "Spring Boot를 활용한 REST API 개발 경험에 대해 여쭤볼게요.",
    "응답 속도를 30% 개선하신 과정이 궁금해요.",
    "2019년에 입사하셔서 팀원 3명과 함께 일하셨죠?",
    "Redis와 Kafka를 선택하신 이유는 무엇인가요?",
    "간단한 자기소개와 함께 지원하신 이유를 말씀해 주시겠어요?",
    "동료와 의견이 달랐던 경험 하나를 말씀해 주시겠어요?",
    "앞으로 어떤 방향으로 성장하고 싶으신가요?",
    "정산 배치 시스템을 쿠버네티스로 이전하신 과정에서 가장 어려웠던 점은 무엇이었나요?",
]
LOOPING = ("응답 속도를 30% 개선하신 과정이 궁금해요.", 120)
"""espeak-ng's Korean read slowly: Whisper base decodes it as "그는 그는 그는 ..." to the window end."""


def _letters(text: str) -> str:
    return re.sub(r"[^가-힣A-Za-z0-9]", "", speakable(text))


def _cer(reference: str, hypothesis: str) -> float:
    return float(jiwer.cer(_letters(reference), _letters(hypothesis) or "-"))


def _to_16k(pcm: bytes, rate: int) -> np.ndarray:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    count = int(len(samples) * RATE / rate)
    return np.interp(np.arange(count) * rate / RATE, np.arange(len(samples)), samples).astype(np.int16)


def _phone(audio: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfilt  # type: ignore[import-untyped]

    sos = butter(4, [300, 3400], btype="band", fs=RATE, output="sos")
    return np.asarray(sosfilt(sos, audio.astype(np.float32)), dtype=np.float32).astype(np.int16)


def _unguarded(stt: FasterWhisperSTT, audio: np.ndarray) -> str:
    """Whisper as before: the whole clip, no loop collapse, no token budget."""
    assert stt._model is not None
    segments, _ = stt._model.transcribe(
        audio.astype(np.float32) / 32768.0,
        language="ko",
        beam_size=1,
        temperature=0,
        condition_on_previous_text=False,
        vad_filter=False,
    )
    return " ".join(s.text.strip() for s in segments)


async def main() -> str:
    from faster_whisper.audio import decode_audio

    clips = sorted(
        {
            p.name: p
            for root in (PROJECT_FIXTURES, SHARED_FIXTURES)
            for p in (root / "audio").glob("ko_*.wav")
        }.values()
    )
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench-ko-") as tmp:
        registry = ModelRegistry(model_paths(load_settings(data_dir=Path(tmp))))
        await registry.preload(("stt",))
        stt = registry.stt
        assert isinstance(stt, FasterWhisperSTT)
        try:
            cers: list[float] = []
            loops = unguarded_loops = 0
            for path in clips:
                audio = (np.clip(decode_audio(str(path), sampling_rate=RATE), -1, 1) * 32767).astype(np.int16)
                reference = path.with_suffix(".txt").read_text(encoding="utf-8").strip()
                result = await stt.transcribe(audio, language="ko")
                cers.append(_cer(reference, result.text))
                print(f"{path.name}: CER {cers[-1]:.3f} {result.text}", flush=True)
                for amp, seconds in ((100, 4), (300, 6)):
                    noisy = _phone(
                        np.concatenate([audio, rng.normal(0, amp, seconds * RATE).astype(np.int16)])
                    )
                    text = (await stt.transcribe(noisy, language="ko")).text
                    raw = await asyncio.to_thread(_unguarded, stt, noisy)
                    loops += has_loop(text)
                    unguarded_loops += has_loop(raw)
                    print(
                        f"  + phone noise {amp} x {seconds} s: {text!r} (unguarded {raw[:80]!r})", flush=True
                    )
            slow = EspeakTTS.load(info=_ESPEAK_INFO, options=EspeakOptions(words_per_minute=LOOPING[1]))
            clip = await slow.synthesize(LOOPING[0])
            slow.close()
            audio = _to_16k(clip.pcm, clip.sample_rate)
            result = await stt.transcribe(audio, language="ko")
            started = time.perf_counter()
            raw = await asyncio.to_thread(_unguarded, stt, audio)
            loop_raw_s = time.perf_counter() - started
            loop_s = result.seconds
            loops += has_loop(result.text)
            unguarded_loops += has_loop(raw)
            print(
                f"looping recording: {result.text!r} in {loop_s:.2f} s "
                f"(unguarded {raw[:60]!r}... in {loop_raw_s:.2f} s)",
                flush=True,
            )
            before = EspeakTTS.load(
                info=_ESPEAK_INFO,
                options=EspeakOptions(words_per_minute=160, speak_korean=False, clause_pause_ms=0),
            )
            after = EspeakTTS.load(info=_ESPEAK_INFO)
            roundtrip: dict[str, list[float]] = {"before": [], "after": []}
            for line in LINES:
                for label, voice in (("before", before), ("after", after)):
                    clip = await voice.synthesize(line)
                    heard = (await stt.transcribe(_to_16k(clip.pcm, clip.sample_rate), language="ko")).text
                    roundtrip[label].append(_cer(line, heard))
                    print(f"  tts {label}: CER {roundtrip[label][-1]:.2f} {heard!r}", flush=True)
            before.close()
            after.close()
        finally:
            registry.close()
    figures = {
        "ko_cer": round(float(np.mean(cers)), 3) if cers else None,
        "repetition_loops": loops,
        "repetition_loops_unguarded": unguarded_loops,
        "loop_transcript_s": round(loop_s, 2),
        "loop_transcript_unguarded_s": round(loop_raw_s, 2),
        "ko_tts_roundtrip_cer_before": round(float(np.mean(roundtrip["before"])), 3),
        "ko_tts_roundtrip_cer_after": round(float(np.mean(roundtrip["after"])), 3),
    }
    return " ".join(f"{k}={v}" for k, v in figures.items())


if __name__ == "__main__":
    print(asyncio.run(main()))
