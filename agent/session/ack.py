"""A short acknowledgement ("Thank you." / "네, 알겠습니다.") the moment the candidate stops.

It goes straight into the outbound track, beside livekit: ``session.say`` does not fit (with fast
STT the reply interrupts it every time; made uninterruptible, livekit skipped the reply and lost the
user message). The reply queues behind it in the track. If the candidate speaks again while only the
acknowledgement is out, it is dropped at once; once a reply is queued behind it, livekit's barge-in
clears both.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence

from agent.session.audio_io import OUTPUT_RATE, AudioSink, SinkEvents

log = logging.getLogger(__name__)


class Acknowledger:
    def __init__(
        self,
        sink: AudioSink,
        events: SinkEvents,
        clips: Sequence[bytes],
        *,
        reply_busy: Callable[[], bool],
    ) -> None:
        """``clips``: mono s16 at the sink's 48 kHz. ``reply_busy``: whether a livekit reply is
        in the track (then a barge-in is livekit's to handle)."""
        if not clips:
            raise ValueError("at least one acknowledgement clip is needed")
        self._sink = sink
        self._clips = list(clips)
        self._reply_busy = reply_busy
        self._ids = itertools.count()
        self._segment: str | None = None
        self.played = 0
        self.dropped = 0
        events.subscribe(finished=self._on_finished)

    @property
    def active(self) -> bool:
        """An acknowledgement is queued or playing."""
        return self._segment is not None

    def play(self) -> str:
        n = next(self._ids)
        segment = f"ack-{n}"
        self._segment = segment
        self._sink.push(self._clips[n % len(self._clips)], OUTPUT_RATE, segment)
        self._sink.end_segment(segment)
        self.played += 1
        return segment

    def drop(self) -> bool:
        """Stop the acknowledgement because the candidate spoke again; True if one was cut."""
        if self._segment is None or self._reply_busy():
            return False
        self._sink.clear()
        self._segment = None
        self.dropped += 1
        return True

    def _on_finished(self, segment: str, played_s: float, interrupted: bool) -> None:
        if segment == self._segment:
            self._segment = None
