"""Real-time pacing for outbound tracks: one sleep per frame to an absolute monotonic deadline.

Sleeping a fixed 20 ms per frame accumulates the loop's lateness; deadlines computed from a fixed
origin do not. aiortc calls ``recv()`` again as soon as the previous frame is encoded, so the track
itself must hold each frame back until its time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

FRAME_S = 0.020


class Pacer:
    """Hands out frame indices no faster than real time.

    The index is the frame's place on the media timeline (pts = index * samples per frame). It never
    jumps: after a stall longer than ``max_late_frames`` the wall-clock origin is moved instead, so
    the track resumes at the normal rate rather than bursting the missed frames (a burst would only
    fill the receiver's jitter buffer and add latency for the rest of the call).
    """

    def __init__(
        self,
        frame_s: float = FRAME_S,
        max_late_frames: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.frame_s = frame_s
        self.max_late_s = max_late_frames * frame_s
        self._clock = clock
        self._origin: float | None = None
        self._origin_index = 0
        self._index = -1
        self.reanchors = 0

    @property
    def index(self) -> int:
        """Index of the last frame handed out (-1 before the first)."""
        return self._index

    def deadline(self, index: int) -> float:
        if self._origin is None:
            raise RuntimeError("pacer not started")
        return self._origin + (index - self._origin_index) * self.frame_s

    async def next_frame(self) -> int:
        """Wait until the next frame is due and return its index; the first is due at once."""
        self._index += 1
        now = self._clock()
        if self._origin is None:
            self._origin = now
            self._origin_index = self._index
            return self._index
        delay = self.deadline(self._index) - now
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > self.max_late_s:
            self._origin = now
            self._origin_index = self._index
            self.reanchors += 1
        return self._index
