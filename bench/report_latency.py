"""Evaluation figures: the report after hang-up, serial vs pool scoring, and what evaluation costs a
live call.

    .venv/bin/python -m bench.report_latency [--answers 17] [--interval 3] [--skip-call]

1. A 17-answer interview whose answers are enqueued as they are given (one every ``--interval``
   seconds, far faster than people talk, so the pool is busier than in a real call) on a pool of 2
   worker processes; the interview ends right after the last answer. ``report_after_hangup_s``:
   hang-up -> ``report_ready`` event.
2. The same 17 answers left unscored until hang-up, scored by the hang-up chord on 1 worker process
   (``serial_s``) and on 2 (``pool_s``): hang-up -> ``report_ready``.
3. A live call through the recorded-audio harness (``bench.turn_latency``), once with evaluation
   off and once with ``serve``'s own workers scoring the call's answers beside it:
   next-question latency p95 of each.

Answer rows are written directly (text + timings) for 1 and 2. Last line: key=value figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

from evaluation.workers import PoolOptions
from signaling.runtime import Runtime
from signaling.settings import load_settings
from tests.evaluation_data import QUALITY_SET
from tests.evaluation_helpers import (
    EventWaiter,
    add_labelled,
    end_interview,
    is_report,
    is_score,
    make_interview,
    worker_pool,
)

ENGLISH = [item for item in QUALITY_SET if item.language == "en"]


async def _interview(runtime: Runtime, answers: int, *, enqueue: bool, interval_s: float) -> float:
    """Write the answers (enqueuing each when asked) and end the interview: seconds to the report."""
    assert runtime.evaluation is not None
    items = [ENGLISH[i % len(ENGLISH)] for i in range(answers)]
    interview_id, qids = await make_interview(runtime, "en", [i.question for i in items])
    async with EventWaiter(runtime.redis, interview_id) as waiter:
        last: uuid.UUID | None = None
        for n, (item, qid) in enumerate(zip(items, qids, strict=True)):
            last = await add_labelled(runtime, interview_id, qid, item, start_s=n * 60.0)
            if enqueue:
                await runtime.evaluation.enqueue_answer(last)
                if n < answers - 1:
                    await asyncio.sleep(interval_s)  # the next answer arrives later: simulated call time
        await end_interview(runtime, interview_id)
        t0 = time.perf_counter()
        await runtime.evaluation.close_interview(interview_id)
        await waiter.wait(is_report(interview_id), timeout_s=900)
        elapsed = time.perf_counter() - t0
        if enqueue and last is not None:
            assert any(is_score(last)(e) for e in waiter.seen)
    return elapsed


async def scoring_figures(answers: int, interval_s: float, data_dir: Path) -> dict[str, str]:
    settings = load_settings(data_dir=data_dir, rate_limit_per_minute=0, enable_calls=False, eval_workers=0)
    runtime = await Runtime.open(settings, progress=lambda line: print(f"  {line}"))
    try:
        async with worker_pool(runtime, PoolOptions(processes=1, nice=0)):
            serial = await _interview(runtime, answers, enqueue=False, interval_s=0)
        print(f"  serial (1 process): {serial:.2f} s")
        async with worker_pool(runtime, PoolOptions(processes=2, nice=0)):
            pooled = await _interview(runtime, answers, enqueue=False, interval_s=0)
            print(f"  pool (2 processes): {pooled:.2f} s")
            during = await _interview(runtime, answers, enqueue=True, interval_s=interval_s)
            print(f"  scored during the call, hang-up -> report: {during:.2f} s")
    finally:
        await runtime.close()
    return {
        "answers": str(answers),
        "report_after_hangup_s": f"{during:.2f}",
        "serial_s": f"{serial:.2f}",
        "pool_s": f"{pooled:.2f}",
        "speedup": f"{serial / pooled:.2f}",
    }


async def call_figure(evaluation: bool) -> str:
    from bench import turn_latency

    os.environ["INTERVIEWER_EVALUATION"] = "true" if evaluation else "false"
    os.environ["INTERVIEWER_EVAL_WORKERS"] = "2" if evaluation else "0"
    line = await turn_latency.main(1, True)
    print(f"  evaluation {'on' if evaluation else 'off'}: {line}")
    found = re.search(r"next_question_p95_ms=(\S+)", line)
    return found.group(1) if found else "n/a"


async def main(answers: int, interval_s: float, skip_call: bool) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        figures = await scoring_figures(answers, interval_s, Path(tmp) / "data")
    if not skip_call:
        figures["next_question_p95_idle_ms"] = await call_figure(False)
        figures["next_question_p95_eval_ms"] = await call_figure(True)
    return " ".join(f"{k}={v}" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--answers", type=int, default=17)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between answers (figure 1)")
    parser.add_argument("--skip-call", action="store_true", help="skip the live-call figure")
    args = parser.parse_args()
    print(asyncio.run(main(args.answers, args.interval, args.skip_call)))
