"""The shipped LLMs side by side: load time, time to the first token, tokens per second, memory.

    .venv/bin/python -m bench.llm_models [--threads 2] [--runs 3]

Each model is loaded through the registry (so the 1.5B is joined from its packages first, once)
in a child process of its own, so its resident memory is its own. Time to the first token is a
one-token completion of the follow-up prompt (prompt evaluation included); tokens per second come
from a 48-token completion of the same prompt, minus that first-token time.
Last line: <model>_load_s= <model>_ttft_ms= <model>_tps= <model>_rss_mb= for each model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {"smollm2": None, "qwen15b": "qwen2.5-coder-1.5b"}
PROMPT = (
    "Question: Tell me about a performance problem you solved.\nAnswer: Our checkout API had a p99 of "
    "900 ms. I added a Redis cache in front of the pricing query and rewrote the query, and the p99 "
    "fell to 180 ms."
)


async def _measure(alias: str | None, data_dir: Path, threads: int, runs: int) -> dict[str, float]:
    import psutil

    from agent.models.base import ChatMessage, GenerationOptions
    from agent.models.registry import ModelPaths, load_llm

    paths = ModelPaths(data_dir=data_dir, llm_path=Path(alias) if alias else None, llm_threads=threads)
    started = time.perf_counter()
    llm = load_llm(paths)
    load_s = time.perf_counter() - started
    messages = [
        ChatMessage("system", "You are a job interviewer. Ask one short follow-up question. Output only it."),
        ChatMessage("user", PROMPT),
    ]
    ttft, tps = [], []
    try:
        for _ in range(runs):
            t = time.perf_counter()
            await llm.complete(messages, options=GenerationOptions(max_tokens=1, temperature=0.0))
            first = time.perf_counter() - t
            t = time.perf_counter()
            done = await llm.complete(messages, options=GenerationOptions(max_tokens=48, temperature=0.0))
            total = time.perf_counter() - t
            ttft.append(first)
            if done.completion_tokens > 1:
                tps.append((done.completion_tokens - 1) / max(total - first, 1e-6))
        print(f"  sample: {done.text.strip()[:120]}", file=sys.stderr)
        rss_mb = psutil.Process().memory_info().rss / 2**20
    finally:
        llm.close()
    return {
        "load_s": round(load_s, 2),
        "ttft_ms": round(1000 * statistics.median(ttft)),
        "tps": round(statistics.median(tps), 1) if tps else 0.0,
        "rss_mb": round(rss_mb),
    }


def _child(alias: str, data_dir: str, threads: int, runs: int) -> None:
    figures = asyncio.run(_measure(alias or None, Path(data_dir), threads, runs))
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("ALIAS", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.threads, args.runs)
        return
    line: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        for name, alias in MODELS.items():
            print(f"{name}: loading and timing ({args.runs} runs, {args.threads} threads)", file=sys.stderr)
            command = [sys.executable, "-m", "bench.llm_models", "--threads", str(args.threads)]
            command += ["--runs", str(args.runs), "--child", alias or "", tmp]
            out = subprocess.run(command, check=True, capture_output=True, text=True)
            sys.stderr.write(out.stderr)
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            line += [f"{name}_{key}={value}" for key, value in figures.items()]
    print(" ".join(line))


if __name__ == "__main__":
    main()
