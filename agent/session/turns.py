"""Per-turn records and the two latencies users feel.

**first_audio**: end of the candidate's speech -> the first agent audio frame sent (the
acknowledgement, or the reply when there is none). **next_question**: end of speech -> the first
frame of the follow-up or next question. The end of speech is the arrival of the last voiced input
frame, taken from the VAD's estimate and snapped to the recorded arrival times of the input frames.
All clocks are ``time.monotonic()``; livekit's wall-clock stamps are converted once, on arrival.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Speaker = Literal["candidate", "interviewer"]
TurnKind = Literal[
    "answer", "request", "greeting", "resume", "follow_up", "next", "repeat", "prompt", "close", "other"
]
"""``request``: a candidate turn that asks for something instead of answering (repeat the question,
move on). ``repeat``: the interviewer says the current question again. ``prompt``: a gentle
"take your time" after a long silence. Neither ``repeat`` nor ``prompt`` moves the plan."""

LATENCY_KEYS = (
    "endpointing_s",
    "stt_final_s",
    "stt_finalize_s",
    "decision_s",
    "llm_ttft_s",
    "tts_ttfb_s",
    "tts_cached",
    "first_audio_s",
    "next_question_s",
    "e2e_s",
)
"""Latency names a turn may carry: endpointing (end of speech -> turn committed), final transcript
(end of speech -> final STT), our decision, livekit's LLM node first token, TTS node first audio,
the two user-facing figures above, and livekit's own end-to-end (end of speech -> playback start).
``tts_cached`` is 1.0 when the reply's audio came from the speech cache, else 0.0."""


@dataclass(frozen=True, slots=True)
class TurnRecord:
    seq: int
    speaker: Speaker
    text: str
    kind: TurnKind
    question_index: int
    """The planned question this turn belongs to (answered, or asked)."""
    started_s: float | None
    """Seconds since the session started (monotonic)."""
    ended_s: float | None
    interrupted: bool = False
    latencies: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Cycle:
    speech_end: float | None = None
    first_audio: float | None = None
    reply_started: float | None = None


class TurnTimer:
    """Follows the candidate's speech and the agent's audio to time each exchange."""

    def __init__(
        self,
        *,
        snap: Callable[[float], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        origin: float | None = None,
    ) -> None:
        """``origin``: the clock time turns are measured from (default: now); a call passes its
        recordings' origin so turn times are offsets into the recorded files."""
        self._snap = snap
        self._clock = clock
        self.origin = clock() if origin is None else origin
        self._cycle = _Cycle()
        self.user_speaking_since: float | None = None

    def since_origin(self, t: float | None) -> float | None:
        return None if t is None else round(t - self.origin, 3)

    def user_started(self, at: float) -> None:
        self.user_speaking_since = at

    def user_stopped(self, at: float) -> float:
        """Record an end of speech (monotonic estimate); returns the snapped time."""
        snapped = self._snap(at) if self._snap is not None else None
        end = snapped if snapped is not None else at
        self.user_speaking_since = None
        # Audio sent before this end of speech answered an earlier pause, not this one.
        self._cycle = _Cycle(speech_end=end)
        return end

    @property
    def speech_end(self) -> float | None:
        return self._cycle.speech_end

    def audio_started(self, at: float, *, reply: bool) -> None:
        """A segment's first frame left at ``at``: an acknowledgement or a reply."""
        cycle = self._cycle
        if cycle.speech_end is None or at < cycle.speech_end:
            return
        if cycle.first_audio is None:
            cycle.first_audio = at
        if reply and cycle.reply_started is None:
            cycle.reply_started = at

    def take(self, *, question: bool) -> dict[str, float]:
        """The exchange's user-facing latencies, once the agent's turn ends; starts a new cycle."""
        cycle, self._cycle = self._cycle, _Cycle()
        out: dict[str, float] = {}
        if cycle.speech_end is None:
            return out
        if cycle.first_audio is not None:
            out["first_audio_s"] = round(cycle.first_audio - cycle.speech_end, 3)
        if question and cycle.reply_started is not None:
            out["next_question_s"] = round(cycle.reply_started - cycle.speech_end, 3)
        return out
