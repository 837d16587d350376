"""What the write journal costs a call: the time of one ``Journal.append`` (a line written and
``fdatasync``'d) and of one ``done`` mark, on the file system of the data dir.

    .venv/bin/python -m bench.journal_append [--appends 500] [--dir data/journal-bench]

The append runs on the event loop that paces the calls' 20 ms audio frames (it must be on disk
before the call goes on), so its tail matters: the goal is p99 under 5 ms, a quarter of a frame.
A turn's entry is about 1 KB (a transcript line, its latencies); the bench writes that size.

Last line: appends p50_ms p99_ms max_ms done_p99_ms goal_met
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

from signaling.journal import Journal

GOAL_P99_MS = 5.0


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=Path("data") / "journal-bench")
    options = parser.parse_args()
    options.dir.mkdir(parents=True, exist_ok=True)
    journal = Journal.create(options.dir)
    entry = {"text": "a candidate's answer " * 40, "latencies": {"stt_s": 0.41, "llm_s": 1.2}}
    appends: list[float] = []
    dones: list[float] = []
    try:
        for _ in range(options.appends):
            t = time.perf_counter()
            entry_id = journal.append("turn", entry)
            appends.append((time.perf_counter() - t) * 1000)
            assert entry_id is not None
            t = time.perf_counter()
            journal.done(entry_id)
            dones.append((time.perf_counter() - t) * 1000)
    finally:
        journal.close()
        shutil.rmtree(options.dir, ignore_errors=True)
    p99 = _quantile(appends, 0.99)
    print(
        f"appends={len(appends)} p50_ms={statistics.median(appends):.2f} p99_ms={p99:.2f} "
        f"max_ms={max(appends):.2f} done_p99_ms={_quantile(dones, 0.99):.3f} goal_met={p99 < GOAL_P99_MS}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
