"""A whole interview from the candidate page in real Chromium: what the page asks of the server, and
how long from clicking "Join" to hearing the first question.

    .venv/bin/python -m bench.web_session            # --questions 2 --runs 1

Re-executes itself inside a private network namespace (``unshare -n``, ``lo`` and a veth pair;
Debian's Chromium gathers no loopback ICE candidates), starts the server in-process on embedded
Postgres/Redis, and drives Debian's Chromium with playwright: upload the resume, prepare the
interview, check the microphone, join, and answer from a fake microphone (the English fixtures)
until the interview ends. Counted at the page: every HTTP request by endpoint (static files apart)
and every WebSocket. ``join_to_first_audio_ms`` is measured in the page: from the click on "Join" to
the first remote audio above speech level at a WebAudio analyser on the interviewer's track
(microphone capture, ICE, DTLS, the server starting the session, the greeting's first frame, and
the jitter buffer included).

Last line: requests_total polling_endpoints websockets join_to_first_audio_ms (median over runs)
static_files runs
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

from playwright.async_api import async_playwright

from signaling.app import create_app
from signaling.background import serve_in_background
from signaling.settings import load_settings
from tests.browser import support
from tests.fixtures_paths import find_fixture
from tests.resume_factory import EN_RESUME

ANSWERS = ("audio/en_librispeech_1089-134686-0000.flac", "audio/en_librispeech_1089-134686-0002.flac")


async def main(questions: int, runs: int) -> str:
    answers = [p for p in (find_fixture(a) for a in ANSWERS) if p is not None]
    if len(answers) < questions:
        raise SystemExit("needs the English audio fixtures (tests/fixtures/audio)")
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        root = Path(tmp)
        resume = root / "jane_park.txt"
        resume.write_text(EN_RESUME)
        wav = support.answers_wav(answers[:questions], root / "microphone.wav", lead_s=11.0, gap_s=9.0)
        # Open intake: the candidate page creates its interview without an interviewer's sign-in.
        settings = load_settings(data_dir=root / "data", rate_limit_per_minute=0, intake="open")
        app = create_app(settings, progress=lambda line: print(f"  {line}", flush=True))
        totals: Counter[str] = Counter()
        requests_total = static = websockets = 0
        polling: set[str] = set()
        join_ms: list[float] = []
        async with serve_in_background(app) as url, async_playwright() as pw:
            for i in range(runs):
                browser = await support.launch(pw, fake_audio=wav)
                try:
                    page = await (await browser.new_context()).new_page()
                    log = support.RequestLog().attach(page)
                    run = await support.candidate_interview(page, url, resume, questions=questions)
                finally:
                    await browser.close()
                counts = log.by_endpoint()
                print(f"run {i + 1}: interview {run.interview_id}, {len(run.captions)} caption lines")
                for key, count in sorted(counts.items()):
                    print(f"  {count:3d}  {key}")
                print(f"  {len(log.websockets):3d}  WebSocket {', '.join(log.websockets)}")
                print(f"  join -> first audio heard: {run.join_to_first_audio_ms} ms, rejoins {run.rejoins}")
                totals.update(counts)
                requests_total += sum(counts.values())
                static += log.static
                websockets += len(log.websockets)
                polling.update(log.polling_endpoints())
                if run.join_to_first_audio_ms is not None:
                    join_ms.append(float(run.join_to_first_audio_ms))
    figures = {
        "requests_total": round(requests_total / runs, 1) if runs > 1 else requests_total,
        "polling_endpoints": len(polling),
        "websockets": round(websockets / runs, 1) if runs > 1 else websockets,
        "join_to_first_audio_ms": round(statistics.median(join_ms)) if join_ms else "n/a",
        "static_files": static // runs,
        "runs": runs,
    }
    return " ".join(f"{k}={v}" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=2, help="planned questions (one answer file each)")
    parser.add_argument("--runs", type=int, default=1, help="interviews, one after the other")
    args = parser.parse_args()
    if not support.inside_netns():
        reason = support.unavailable_reason()
        if reason is not None:
            raise SystemExit(f"cannot run: {reason}")
        sys.exit(support.reexec_in_netns(["-m", "bench.web_session", *sys.argv[1:]], timeout_s=3600))
    support.setup_network()
    print(asyncio.run(main(args.questions, args.runs)))
