"""A candidate's call for the fault benchmark and tests, built from the harness's parts
(``signaling.harness`` runs a whole interview; a fault needs a call that can hang up and rejoin,
or answer while the test does something else)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any


class Candidate:
    """One candidate's call, from the harness's parts, that can hang up and rejoin."""

    def __init__(
        self, base_url: str, interview_id: str, token: str, *, step_timeout_s: float = 150.0
    ) -> None:
        self.base_url = base_url
        self.interview_id = interview_id
        self.token = token
        self.step_timeout_s = step_timeout_s
        self.events: list[dict[str, Any]] = []
        self.server_errors: list[str] = []
        self.unavailable: list[str] = []
        """503 answers (retry soon): what a server should say during an outage, counted apart."""
        self.served_by: list[str] = []
        """The process that answered each join (behind a proxy, which one runs the call)."""
        self._pc: Any = None
        self._mic: Any = None
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._drain: asyncio.Task[None] | None = None

    async def join(self, base_url: str | None = None) -> None:
        """Join, or rejoin, through ``base_url`` (default: the one given at creation)."""
        import httpx
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from media.files import FileAudioTrack
        from media.ice import enable_loopback_candidates, rtc_configuration

        enable_loopback_candidates()
        pc = RTCPeerConnection(rtc_configuration([]))
        mic = FileAudioTrack()
        pc.addTrack(mic)
        channel = pc.createDataChannel("events")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        channel.on("message", lambda msg: queue.put_nowait(json.loads(msg)))

        @pc.on("track")
        def _on_track(track: Any) -> None:
            if track.kind == "audio":
                self._drain = asyncio.create_task(_discard(track))

        await pc.setLocalDescription(await pc.createOffer())
        async with httpx.AsyncClient(base_url=base_url or self.base_url, timeout=60) as http:
            resp = await http.post(
                f"/api/interviews/{self.interview_id}/offer",
                json={"sdp": pc.localDescription.sdp, "type": "offer"},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        if resp.status_code == 503:
            self.unavailable.append(f"offer -> 503, Retry-After {resp.headers.get('retry-after')}")
        elif resp.status_code >= 500:
            self.server_errors.append(f"offer -> {resp.status_code}")
        if resp.status_code >= 400:
            await pc.close()
            raise RuntimeError(f"offer -> {resp.status_code}: {resp.text}")
        self.served_by.append(resp.headers.get("x-served-by", ""))
        await pc.setRemoteDescription(RTCSessionDescription(**{k: resp.json()[k] for k in ("sdp", "type")}))
        self._pc, self._mic, self._queue = pc, mic, queue

    async def next_question(self) -> dict[str, Any] | None:
        """The next interviewer turn that asks something; None once the interview has ended."""
        deadline = time.monotonic() + self.step_timeout_s
        while True:
            event = await asyncio.wait_for(self._queue.get(), max(0.1, deadline - time.monotonic()))
            self.events.append(event)
            if event.get("type") == "error":
                self.server_errors.append(f"error event: {event.get('message')}")
            if event.get("type") == "ended":
                return None
            if (
                event.get("type") == "turn"
                and event.get("speaker") == "interviewer"
                and event.get("kind") != "close"
            ):
                return event

    async def answer(self, path: Path) -> None:
        from media.files import load_audio

        samples = await asyncio.to_thread(load_audio, path, 48_000)
        await asyncio.sleep(0.3)
        self._mic.play(samples)
        await self._mic.wait_done()

    async def hangup(self) -> None:
        if self._pc is not None:
            with contextlib.suppress(Exception):
                await self._pc.close()
        if self._drain is not None:
            self._drain.cancel()
        self._pc = None


async def _discard(track: Any) -> None:
    from aiortc.mediastreams import MediaStreamError

    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
