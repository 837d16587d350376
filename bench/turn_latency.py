"""Turn latency of whole simulated interviews through the real WebRTC path.

    .venv/bin/python -m bench.turn_latency [--rooms N] [--stagger-s S] [--stt-workers W] [--no-ack]

Starts the server in-process on embedded Postgres/Redis, then runs N simultaneous interviews with
the recorded-audio harness (aiortc clients on loopback), each answering with the English fixtures.
Per turn: first audio (end of the answer's speech -> first agent audio frame sent; the client-side
figure adds transport and the client's jitter buffer), next question (-> first frame of the
follow-up or next question), and the stage breakdown the server stored with each turn.

Last line: turns first_audio_p50_ms first_audio_p95_ms next_question_p50_ms next_question_p95_ms
endpoint_p50_ms stt_p50_ms llm_ttft_p50_ms tts_ttfa_p50_ms client_first_audio_p50_ms wer rooms
stagger_s stt_workers cpu_cores_used (the process's CPU time over wall time: near 2.0, the 2-core
machine is saturated) ack
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import jiwer

from signaling import harness
from signaling.app import create_app
from signaling.background import serve_in_background
from signaling.settings import load_settings
from tests.fixtures_paths import find_fixture
from tests.resume_factory import EN_RESUME

ANSWERS = (
    "audio/en_librispeech_1089-134686-0000.flac",
    "audio/en_picovoice_cheetah_test_en.wav",
    "audio/en_librispeech_1089-134686-0002.flac",
    "audio/jfk.flac",
    "audio/en_ljspeech_LJ050-0131.wav",
)


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.0f}"


def _norm(text: str) -> str:
    return re.sub(r"[^\w\s']", " ", text.lower()).strip()


async def main(rooms: int, ack: bool, *, stagger_s: float = 0.0, stt_workers: int | None = None) -> str:
    answers = [p for p in (find_fixture(a) for a in ANSWERS) if p is not None]
    if len(answers) < 2:
        raise SystemExit("needs the audio fixtures (../shared/fixtures/audio)")
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
        resume = Path(tmp) / "resume.txt"
        resume.write_text(EN_RESUME)
        overrides: dict[str, Any] = {} if stt_workers is None else {"stt_workers": stt_workers}
        settings = load_settings(
            data_dir=Path(tmp) / "data", rate_limit_per_minute=0, intake="open", acknowledge=ack, **overrides
        )
        app = create_app(settings, progress=lambda line: print(f"  {line}"))
        async with serve_in_background(app) as url:
            options = harness.HarnessOptions(
                base_url=url, resume=resume, answers=tuple(answers), follow_ups=False
            )

            async def room(n: int) -> harness.HarnessResult:
                await asyncio.sleep(n * stagger_s)  # staggered starts: answers do not end in lock-step
                return await harness.run(options)

            wall, cpu = time.perf_counter(), time.process_time()
            results = await asyncio.gather(*(room(n) for n in range(rooms)))
            cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    first: list[float] = []
    nextq: list[float] = []
    stages: dict[str, list[float]] = {
        "endpointing_s": [],
        "stt_final_s": [],
        "llm_ttft_s": [],
        "tts_ttfb_s": [],
    }
    client_first: list[float] = []
    refs, hyps = [], []
    for result in results:
        print(harness.format_result(result))
        for answer, reply in harness.exchanges(result.transcript):
            lat: dict[str, Any] = reply["latencies"] if reply else {}
            if isinstance(lat.get("first_audio_s"), int | float):
                first.append(float(lat["first_audio_s"]))
            if isinstance(lat.get("next_question_s"), int | float):
                nextq.append(float(lat["next_question_s"]))
            for key in ("endpointing_s", "stt_final_s"):
                if isinstance(answer["latencies"].get(key), int | float):
                    stages[key].append(float(answer["latencies"][key]))
            for key in ("llm_ttft_s", "tts_ttfb_s"):
                if isinstance(lat.get(key), int | float):
                    stages[key].append(float(lat[key]))
        client_first += [t.first_audio_s for t in result.turns if t.first_audio_s is not None]
        candidate = [t["text"] for t in result.transcript if t["speaker"] == "candidate"]
        for path, text in zip(answers, candidate, strict=False):
            refs.append(_norm(path.with_suffix(".txt").read_text()))
            hyps.append(_norm(text))
    wer = jiwer.wer(refs, hyps) if refs else None
    figures = {
        "turns": len(nextq),
        "first_audio_p50_ms": _ms(_pct(first, 50)),
        "first_audio_p95_ms": _ms(_pct(first, 95)),
        "next_question_p50_ms": _ms(_pct(nextq, 50)),
        "next_question_p95_ms": _ms(_pct(nextq, 95)),
        "endpoint_p50_ms": _ms(_pct(stages["endpointing_s"], 50)),
        "stt_p50_ms": _ms(_pct(stages["stt_final_s"], 50)),
        "llm_ttft_p50_ms": _ms(_pct(stages["llm_ttft_s"], 50)),
        "tts_ttfa_p50_ms": _ms(_pct(stages["tts_ttfb_s"], 50)),
        "client_first_audio_p50_ms": _ms(_pct(client_first, 50)),
        "wer": "n/a" if wer is None else f"{wer:.3f}",
        "rooms": rooms,
        "stagger_s": stagger_s,
        "stt_workers": settings.stt_workers,
        "cpu_cores_used": f"{cores:.2f}",
        "ack": ack,
    }
    return " ".join(f"{k}={v}" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", type=int, default=1, help="simultaneous interviews")
    parser.add_argument("--no-ack", action="store_true", help="no acknowledgement at the end of an answer")
    parser.add_argument(
        "--stagger-s",
        type=float,
        default=0.0,
        help="start room n after n times this many seconds (default 0: every room answers in lock-step, "
        "the worst case)",
    )
    parser.add_argument("--stt-workers", type=int, default=None, help="override the stt_workers setting")
    args = parser.parse_args()
    ack = not args.no_ack
    print(asyncio.run(main(args.rooms, ack, stagger_s=args.stagger_s, stt_workers=args.stt_workers)))
