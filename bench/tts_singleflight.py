"""The cross-process TTS cache: one synthesis per utterance, waiter wake-up, hits, takeover, and the
first question of a call with pre-synthesis.

    .venv/bin/python -m bench.tts_singleflight [--rounds 5] [--no-call]

1. Race: 4 OS processes (spawn), each with the real piper voice and its own Redis client, ask for
   one utterance 25 times at once (100 requests), released together by a barrier; ``--rounds``
   different utterances. Counts syntheses and identical audio per round; ``wake`` is the holder's
   completion signal -> each waiting process holding the audio (one system-wide monotonic clock,
   one host); ``hit_ttfa`` is a request's first audio on a stored utterance (50 per process).
2. Takeover: a holder is killed with SIGKILL mid-synthesis while another process waits;
   ``takeover_s`` is the kill -> the waiter holding the whole audio, at the default lock TTL;
   ``takeover_detect_s`` the kill -> the waiter taking the lock over (the rest is its synthesis).
3. Call: the server in-process, a real aiortc client on loopback creates an interview (which
   pre-synthesizes its lines), joins once that is done, and times joining -> the first voiced frame
   of the first question. ``first_question_cold_ms``: the same with pre-synthesis switched off.

Last line: requests syntheses identical wake_p50_ms wake_max_ms hit_ttfa_p50_ms miss_ttfa_p50_ms
rounds syntheses_all identical_all takeover_s takeover_detect_s extra_syntheses first_question_ms
first_question_cold_ms
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from agent.models.registry import ModelPaths, load_tts
from agent.session.speech import SpeechLibrary
from agent.tts_cache import CacheOptions, SharedSpeechCache
from db.embedded import EmbeddedRedis
from signaling import harness
from signaling.app import create_app
from signaling.background import serve_in_background
from signaling.settings import load_settings
from tests.fixtures_paths import find_fixture
from tests.resume_factory import EN_RESUME
from tests.tts_cache_procs import CTX, Inbox, WorkerSpec

PROCESSES = 4
PER_PROCESS = 25
HIT_PROBES = 50
QUESTIONS = (
    "Tell me about the last system you designed from scratch.",
    "What was the hardest production incident you handled, and what did you change afterwards?",
    "How do you decide when a piece of code needs tests?",
    "Describe a disagreement with a colleague and how it was resolved.",
    "Which of your projects are you most proud of, and why?",
    "How would you explain your current role to someone outside the industry?",
    "What did you learn from the last project that did not go to plan?",
    "How do you keep a large codebase easy to change?",
)
LONG_TEXT = (
    "Let's talk about your experience in more depth. Think of a project where the requirements "
    "changed late. Tell me what changed, who decided, and how you adapted the design. Then tell me "
    "what you would do differently if you started the same project again tomorrow."
)


def _p50_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}" if values else "n/a"


def race(redis_url: str, data_dir: Path, keys: dict[str, str], rounds: int) -> dict[str, str]:
    texts = QUESTIONS[:rounds]
    spec = WorkerSpec(
        redis_url,
        "race",
        texts,
        requests=PER_PROCESS,
        tts="piper",
        data_dir=str(data_dir),
        hit_probes=HIT_PROBES,
    )
    barrier = CTX.Barrier(PROCESSES)
    inbox = Inbox()
    procs = [inbox.start(spec, barrier=barrier) for _ in range(PROCESSES)]
    try:
        inbox.until(lambda i: sum(m[0] == "exit" for m in i.seen) == PROCESSES, "every worker done", 900)
    finally:
        for proc in procs:
            proc.join(30)
    per_round: list[tuple[int, int, int]] = []
    wakes: list[float] = []
    miss_ttfa: list[float] = []
    for text in texts:
        key = keys[text]
        synth = [m for m in inbox.events(name="synthesize") if m[3] == key]
        published = [m for m in inbox.events(name="published") if m[3] == key]
        digests = [r[0] for m in inbox.results() if m[2] == text for r in m[3]]
        top = Counter(digests).most_common(1)[0][1] if digests else 0
        per_round.append((len(digests), len(synth), top))
        if published:
            holder, at = published[0][1], published[0][4]
            # Each waiting process's first hit on the key (later hits are the probes' reads).
            first_hits: dict[int, float] = {}
            for m in inbox.events(name="hit"):
                if m[3] == key and m[1] != holder:
                    first_hits.setdefault(m[1], m[4])
            wakes += [t - at for t in first_hits.values()]
            miss_ttfa += [r[1] for m in inbox.results(holder) if m[2] == text for r in m[3]]
        print(f"  round {text[:40]!r}: requests={len(digests)} syntheses={len(synth)} identical={top}")
    hits = [r[1] for m in inbox.seen if m[0] == "probes" for r in m[2]]
    requests, syntheses, identical = per_round[0]
    return {
        "requests": str(requests),
        "syntheses": str(syntheses),
        "identical": str(identical),
        "wake_p50_ms": _p50_ms(wakes),
        "wake_max_ms": f"{max(wakes) * 1000:.1f}" if wakes else "n/a",
        "hit_ttfa_p50_ms": _p50_ms(hits),
        "miss_ttfa_p50_ms": _p50_ms(miss_ttfa),
        "rounds": str(len(texts)),
        "syntheses_all": str(sum(s for _, s, _ in per_round)),
        "identical_all": f"{sum(i for _, _, i in per_round)}/{sum(r for r, _, _ in per_round)}",
    }


def takeover(redis_url: str, data_dir: Path, key: str) -> dict[str, str]:
    spec = WorkerSpec(redis_url, "takeover", (LONG_TEXT,), tts="piper", data_dir=str(data_dir))
    inbox = Inbox()
    release = CTX.Barrier(2)  # the waiter asks only once the holder is synthesizing
    waiter = inbox.start(spec, barrier=release)
    inbox.until(lambda i: any(m[:2] == ("ready", waiter.pid) for m in i.seen), "the waiter loaded")
    holder = inbox.start(spec)
    try:
        inbox.until(lambda i: bool(i.events(holder.pid, "synthesize")), "the holder synthesizing")
        release.wait()
        inbox.until(lambda i: bool(i.events(waiter.pid, "wait")), "the waiter waiting")
        if inbox.events(holder.pid, "published"):
            return {"takeover_s": "n/a", "takeover_detect_s": "n/a", "extra_syntheses": "n/a"}
        killed_at = time.monotonic()
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        inbox.until(lambda i: bool(i.results(waiter.pid)), "the waiter's audio", 120)
    finally:
        for proc in (holder, waiter):
            proc.join(30)
    (result,) = inbox.results(waiter.pid)
    done_at = result[3][0][2]
    synth = [m for m in inbox.events(name="synthesize") if m[3] == key]
    print(
        f"  takeover: {len(inbox.events(waiter.pid, 'takeover'))} takeover(s), {len(synth)} syntheses begun"
    )
    detected_at = inbox.events(waiter.pid, "takeover")[0][4]
    return {
        "takeover_s": f"{done_at - killed_at:.2f}",
        "takeover_detect_s": f"{detected_at - killed_at:.2f}",
        "extra_syntheses": str(len(synth) - 1),
    }


async def first_question(presynthesize: bool) -> str:
    answer = find_fixture("audio/jfk.flac")
    if answer is None:
        return "n/a"
    with tempfile.TemporaryDirectory(prefix="bench-tts-call-") as tmp:
        resume = Path(tmp) / "resume.txt"
        resume.write_text(EN_RESUME)
        settings = load_settings(
            data_dir=Path(tmp) / "data",
            rate_limit_per_minute=0,
            intake="open",  # the harness creates its interviews without signing in
            tts_presynthesize=presynthesize,
            evaluation=False,
        )
        app = create_app(settings, progress=lambda line: None)
        async with serve_in_background(app) as url:
            runtime = app.state.runtime

            async def presynthesized(interview_id: str) -> None:
                if runtime.presynth is not None:
                    await runtime.presynth.join()

            options = harness.HarnessOptions(
                base_url=url,
                resume=resume,
                answers=(answer,),
                question_count=1,
                follow_ups=False,
                before_join=presynthesized,
            )
            result = await harness.run(options)
    if result.first_question_s is None:
        return "n/a"
    return f"{result.first_question_s * 1000:.0f}"


def main(rounds: int, call: bool) -> str:
    figures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as tmp:
        data_dir = Path(tmp) / "data"
        # Assembled once here, so the workers only read the voice files.
        tts = load_tts(ModelPaths(data_dir=data_dir))
        library = SpeechLibrary(tts, SharedSpeechCache(None, options=CacheOptions()))
        keys = {text: library.key(text) for text in (*QUESTIONS, LONG_TEXT)}
        tts.close()
        server = EmbeddedRedis(Path(tmp))
        url = server.start()
        try:
            print(f"race: {PROCESSES} processes x {PER_PROCESS} requests, {rounds} utterances")
            figures |= race(url, data_dir, keys, rounds)
            print("takeover: SIGKILL the holder mid-synthesis")
            figures |= takeover(url, data_dir, keys[LONG_TEXT])
        finally:
            server.stop()
    if call:
        print("call: first question after joining, with and without pre-synthesis")
        figures["first_question_ms"] = asyncio.run(first_question(True))
        figures["first_question_cold_ms"] = asyncio.run(first_question(False))
    return " ".join(f"{k}={v}" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help=f"utterances raced for (1-{len(QUESTIONS)})")
    parser.add_argument("--no-call", action="store_true", help="skip the call (first question) part")
    args = parser.parse_args()
    print(main(max(1, min(args.rounds, len(QUESTIONS))), not args.no_call))
