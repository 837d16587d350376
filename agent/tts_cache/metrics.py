"""Prometheus counters of the TTS cache, exported on ``/metrics`` by the app."""

from __future__ import annotations

from prometheus_client import Counter

SYNTHESES = Counter(
    "interviewer_tts_cache_syntheses_total", "Utterances synthesized (cache misses that ran the model)"
)
HITS = Counter("interviewer_tts_cache_hits_total", "Utterances served from the cache", ["store"])
WAITS = Counter("interviewer_tts_cache_waits_total", "Requests that waited for another process's synthesis")
TAKEOVERS = Counter(
    "interviewer_tts_cache_takeovers_total",
    "Waiters that took the lock over because the holder died or failed",
)
FALLBACKS = Counter(
    "interviewer_tts_cache_fallbacks_total",
    "Requests served without Redis (unreachable or failing): in-process single-flight instead",
    ["stage"],
)
BYTES_STORED = Counter("interviewer_tts_cache_bytes_stored_total", "Audio bytes written to Redis")
OVERSIZE = Counter(
    "interviewer_tts_cache_oversize_total", "Utterances not stored because they exceed the per-entry cap"
)
LOCK_LOST = Counter(
    "interviewer_tts_cache_lock_lost_total", "Holders whose lock expired or was taken while synthesizing"
)
