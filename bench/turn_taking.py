"""A patient interviewer, measured: whole interviews through the real WebRTC harness on spontaneous
answers with their own pauses, resumes after a false end of turn, and backchannels.

    .venv/bin/python -m bench.turn_taking

Three interviews of 20 answers, each with one kind of speaker, since the policy learns a candidate's
rhythm within an interview (see docs/performance.md, "Issue 11", for where each recording comes from):
- English, spontaneous (the Earnings-22 speaker, 6 answers): the clip whole (60 s, twelve pauses of
  0.3-2.1 s); its second half then its first half with 1.2 s between; each half alone; the first
  half resumed after the interviewer's next line began (the resumed part is the clip's last
  sentence); the second half with "Okay." said over the next question.
- English, read (9 answers): JFK's address (three 1 s pauses) + 1.5 s + a read sentence; a long
  LibriSpeech sentence resumed 0.8 s after the next line began; the same with "Okay." 3.6 s into the
  next question; LibriSpeech sentences alone and two joined by 1.0 s; LJ Speech; the Open Speech
  Repository's ten sentences over an 8 kHz line (30 s, a pause after each); JFK alone; Picovoice's
  English clip.
- Korean (5 answers): Picovoice's Korean clip twice with 1.5 s between (plain, resumed, with "네."
  over the next question), alone, and three times with 0.8 s and 1.2 s between.

Last line: answers cutoffs fragments plan_skips next_question_p50_ms next_question_p95_ms
resume_stop_p95_ms backchannel_stops (definitions in docs/performance.md).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from agent.models.registry import ModelRegistry
from evaluation.answers import group_answers, view_of
from media.files import load_audio
from signaling import harness
from signaling.app import create_app
from signaling.background import serve_in_background
from signaling.runtime import model_paths
from signaling.settings import load_settings
from tests.fixtures_paths import find_fixture
from tests.resume_factory import EN_RESUME, KO_RESUME

EARNINGS = "audio/en_earnings22_1_4482311_3_62.wav"
EARNINGS_CUT_S = 23.7
"""Inside its 1.7 s pause after "It's a very pleasant um, meeting." (measured with the VAD)."""
JFK = "audio/jfk.flac"
LONG = "audio/en_librispeech_1089-134686-0000.flac"
SENTENCE = "audio/en_librispeech_1089-134686-0002.flac"
SHORT = "audio/en_picovoice_cheetah_test_en.wav"
LJ = "audio/en_ljspeech_LJ050-0131.wav"
PHONE = "audio/OSR_us_000_0034_8k.wav"
KOREAN = "audio/ko_picovoice_leopard_test_ko.wav"
EARNINGS_LAST_S = 54.9
"""Inside the Earnings clip's last pause (54.6-55.2 s by frame energy), before "profit from
recurring operations over 17 billion Euros.": the part that resumes an answer."""


def _need(rel: str) -> Path:
    path = find_fixture(rel)
    if path is None:
        raise SystemExit(f"needs the fixture {rel} (../shared/fixtures/audio)")
    return path


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.0f}"


async def _voice(text: str, path: Path, settings: Any) -> Path:
    registry = ModelRegistry(model_paths(settings))
    try:
        await registry.preload(("tts",))
        audio = await registry.tts.synthesize(text)
    finally:
        registry.close()
    samples = np.frombuffer(audio.pcm, dtype=np.int16)
    sf.write(path, np.concatenate([np.zeros(audio.sample_rate // 5, np.int16), samples]), audio.sample_rate)
    return path


def _figures(results: list[harness.HarnessResult]) -> dict[str, Any]:
    answers = cutoffs = fragments = plan_skips = backchannel_stops = 0
    nextq: list[float] = []
    stops: list[float] = []
    for result in results:
        turns = result.turns
        answers += len(turns)
        cutoffs += sum(t.cutoffs for t in turns)
        backchannel_stops += sum(1 for t in turns if t.backchannel_stopped)
        stops += [t.resume_stop_s for t in turns if t.resume_stop_s is not None]
        # The last answer is followed by the closing line, not a question.
        nextq += [t.first_audio_s for t in turns[:-1] if t.first_audio_s is not None]
        views = [
            view_of(
                seq=t["seq"],
                speaker=t["speaker"],
                text=t["text"],
                latencies={**t["latencies"], "kind": t.get("kind"), "interrupted": t.get("interrupted")},
                question_index=t["question_index"],
            )
            for t in result.transcript
        ]
        grouped = group_answers(views)
        fragments += max(0, len(grouped) - len(turns))
        answered = {a.key.question_index for a in grouped}
        asked = [
            t["question_index"]
            for t in result.transcript
            if t["speaker"] == "interviewer"
            and not t["interrupted"]
            and t.get("kind") in ("next", "greeting")
        ]
        plan_skips += sum(1 for i in range(max(asked, default=0)) if i not in answered)
    return {
        "answers": answers,
        "cutoffs": cutoffs,
        "fragments": fragments,
        "plan_skips": plan_skips,
        "next_question_p50_ms": _ms(_pct(nextq, 50)),
        "next_question_p95_ms": _ms(_pct(nextq, 95)),
        "resume_stop_p95_ms": _ms(_pct(stops, 95)),
        "backchannel_stops": backchannel_stops,
    }


async def main() -> str:
    earnings, jfk, long, sentence, short, lj, phone, korean = (
        _need(p) for p in (EARNINGS, JFK, LONG, SENTENCE, SHORT, LJ, PHONE, KOREAN)
    )
    with tempfile.TemporaryDirectory(prefix="bench-turn-taking-") as tmp_dir:
        tmp = Path(tmp_dir)
        settings = load_settings(data_dir=tmp / "data", rate_limit_per_minute=0, intake="open")
        clip = load_audio(earnings, 16_000)
        cut, last = int(EARNINGS_CUT_S * 16_000), int(EARNINGS_LAST_S * 16_000)
        first_half, second_half, last_sentence = (
            tmp / "earnings_a.wav",
            tmp / "earnings_b.wav",
            tmp / "earnings_last.wav",
        )
        sf.write(first_half, clip[:cut], 16_000)
        sf.write(second_half, clip[cut:], 16_000)
        sf.write(last_sentence, clip[last:], 16_000)
        okay = await _voice("Okay.", tmp / "okay.wav", settings)
        ne = await _voice("네.", tmp / "ne.wav", settings)
        spontaneous = (
            earnings,
            harness.SpokenAnswer(parts=(second_half, 1.2, first_half)),
            first_half,
            second_half,
            harness.SpokenAnswer(parts=(first_half,), resume=(last_sentence,), resume_delay_s=0.8),
            harness.SpokenAnswer(parts=(second_half,), backchannel=okay, backchannel_delay_s=3.6),
        )
        read = (
            harness.SpokenAnswer(parts=(jfk, 1.5, short)),
            harness.SpokenAnswer(parts=(long,), resume=(short,), resume_delay_s=0.8),
            harness.SpokenAnswer(parts=(long,), backchannel=okay, backchannel_delay_s=3.6),
            sentence,
            harness.SpokenAnswer(parts=(long, 1.0, sentence)),
            lj,
            phone,
            jfk,
            short,
        )
        korean_answers = (
            harness.SpokenAnswer(parts=(korean, 1.5, korean)),
            harness.SpokenAnswer(parts=(korean, 1.5, korean), resume=(korean,), resume_delay_s=0.8),
            harness.SpokenAnswer(parts=(korean, 1.5, korean), backchannel=ne, backchannel_delay_s=3.6),
            korean,
            harness.SpokenAnswer(parts=(korean, 0.8, korean, 1.2, korean)),
        )
        en_resume, ko_resume = tmp / "jane.txt", tmp / "kim.txt"
        en_resume.write_text(EN_RESUME)
        ko_resume.write_text(KO_RESUME, encoding="utf-8")
        app = create_app(settings, progress=lambda line: print(f"  {line}"))
        results = []
        async with serve_in_background(app) as url:
            interviews = (
                (en_resume, spontaneous, "en"),
                (en_resume, read, "en"),
                (ko_resume, korean_answers, "ko"),
            )
            for resume, answers, language in interviews:
                result = await harness.run(
                    harness.HarnessOptions(
                        base_url=url, resume=resume, answers=answers, language=language, follow_ups=False
                    )
                )
                print(harness.format_result(result))
                for t in result.turns:
                    print(
                        f"  {t.answer[:40]:<40} cutoffs={t.cutoffs} first_audio={_ms(t.first_audio_s)} "
                        f"resume_stop={_ms(t.resume_stop_s)} started_before_resume="
                        f"{t.interviewer_started_before_resume} backchannel_stopped={t.backchannel_stopped}"
                    )
                for row in result.transcript:
                    flag = " (interrupted)" if row["interrupted"] else ""
                    who = f"[{row['question_index']}] {row['speaker']:<11} {row.get('kind')}{flag}"
                    print(f"    {who}: {row['text'][:80]}")
                results.append(result)
    return " ".join(f"{k}={v}" for k, v in _figures(results).items())


if __name__ == "__main__":
    print(asyncio.run(main()))
