"""Prometheus metrics of live calls, exported at /metrics."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.3, 1.8, 2.5, 3.5, 5.0, 8.0)

TURN_STAGE_SECONDS = Histogram(
    "interviewer_turn_stage_seconds",
    "Per-turn latency of each stage: endpointing, stt_final, llm_ttft, tts_ttfa, first_audio, next_question",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
ACTIVE_CALLS = Gauge("interviewer_active_calls", "WebRTC calls in progress")
CALLS = Counter("interviewer_calls_total", "Calls by outcome", ["outcome"])
LEASE_CONFLICTS = Counter(
    "interviewer_room_lease_conflicts_total",
    "Room writes refused because another process owns the room (a stale owner that missed the handover)",
)
TURNS = Counter("interviewer_turns_total", "Finished turns by speaker", ["speaker"])

STAGES = ("endpointing", "stt_final", "llm_ttft", "tts_ttfa", "first_audio", "next_question")


def observe_turn(speaker: str, latencies_s: Mapping[str, float | None]) -> None:
    TURNS.labels(speaker).inc()
    for stage in STAGES:
        value = latencies_s.get(stage)
        if value is not None and value >= 0:
            TURN_STAGE_SECONDS.labels(stage).observe(value)
