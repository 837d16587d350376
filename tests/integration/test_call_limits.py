"""Calls that could lock candidates out, over real aiortc on loopback with the real models, Postgres
and Redis: concurrent joins of one interview, silent connections, and offers aiortc refuses after
our validation passed them (each must be a 400 that leaves nothing behind), fuzzed from a real
browser's offer."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import random
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from agent.errors import CapacityError, ConflictError
from db import queries
from db.engine import unit_of_work
from media.files import FileAudioTrack
from media.ice import enable_loopback_candidates, rtc_configuration
from signaling.app import create_app
from signaling.calls import CallManager
from signaling.runtime import Runtime
from tests.interview_rows import make_interview
from tests.sdp_samples import CHROMIUM_OFFER

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _manager(runtime: Runtime, **settings: Any) -> tuple[Runtime, CallManager]:
    """A call manager of its own (own limits) over the session's database, Redis and models."""
    own = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=settings), calls=None)
    own.calls = CallManager(own, runtime.models)
    return own, own.calls


class _Client:
    """An aiortc caller that says nothing (its microphone plays silence) and keeps its events."""

    def __init__(self) -> None:
        enable_loopback_candidates()
        self.pc = RTCPeerConnection(rtc_configuration([]))
        self.pc.addTrack(FileAudioTrack())
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        channel = self.pc.createDataChannel("events")
        channel.on("message", lambda m: self.events.put_nowait(json.loads(m)))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def next_event(self, kind: str, limit_s: float = 120) -> dict[str, Any]:
        while True:
            event = await asyncio.wait_for(self.events.get(), limit_s)  # a hang guard only
            if event.get("type") == kind:
                return event


@pytest.fixture
async def clients() -> AsyncIterator[list[_Client]]:
    made: list[_Client] = []
    yield made
    for c in made:
        await c.pc.close()


def _ice_transports(pc: RTCPeerConnection) -> list[Any]:
    dtls = [t.receiver.transport for t in pc.getTransceivers()] + [getattr(pc.sctp, "transport", None)]
    return [d.transport for d in dtls if d is not None]


def _server_connections(clients: list[_Client]) -> list[RTCPeerConnection]:
    """Peer connections of the server (not a test client's) with an ICE transport still running:
    what holds sockets and tasks, whatever aiortc's own ``connectionState`` says."""
    gc.collect()
    ours = {id(c.pc) for c in clients}
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, RTCPeerConnection)
        and id(o) not in ours
        # "failed" after a close is a check aiortc gave up on once its connection closed; the UDP
        # socket count below catches a failed transport that still holds its sockets.
        and any(ice.state in ("checking", "completed") for ice in _ice_transports(o))
    ]


def _udp_sockets() -> int:
    """UDP sockets this process holds open (ICE candidates are UDP sockets)."""
    inodes: set[str] = set()
    for table in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        with open(table) as f:
            inodes.update(line.split()[9] for line in list(f)[1:])
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


def _recording_leftovers() -> tuple[list[str], list[str]]:
    """Open WAV files and recording writer threads of this process."""
    files = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith(".wav") and "/recordings/" in target:
            files.append(target)
    threads = [t.name for t in threading.enumerate() if t.name.startswith("wav:")]
    return files, threads


async def _wait_until(predicate: Any, limit_s: float = 120) -> None:
    """Poll until ``predicate()``; the limit is a hang guard, not a timing goal."""
    for _ in range(int(limit_s / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


async def test_concurrent_joins_of_one_interview_leave_exactly_one_room(
    runtime: Runtime, clients: list[_Client]
) -> None:
    _, manager = _manager(runtime, max_rooms=1)
    interview_id, _ = await make_interview(runtime)
    other_id, _ = await make_interview(runtime)
    try:
        clients.extend(_Client() for _ in range(3))
        offers = [await c.offer() for c in clients]
        # A reload during negotiation and a second tab, at once.
        results = await asyncio.gather(
            *(manager.join(interview_id, sdp, "offer") for sdp in offers), return_exceptions=True
        )
        answered = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, BaseException)]
        # One join waits behind the running one and then replaces it; a third at once is refused.
        assert len(answered) == 2, results
        assert len(refused) == 1
        assert isinstance(refused[0], ConflictError), refused
        assert list(manager.rooms) == [interview_id]
        # The earlier room was closed, not overwritten: one server connection, not two.
        assert len(_server_connections(clients)) == 1
        # And the interview's one room is what max_rooms counts.
        spare = _Client()
        clients.append(spare)
        with pytest.raises(CapacityError):
            await manager.join(other_id, await spare.offer(), "offer")
        # The later join's connection is the live one and works end to end.
        await clients[1].answer(answered[-1])
        greeting = await clients[1].next_event("turn")
        assert greeting["speaker"] == "interviewer"
    finally:
        await manager.close()
    assert _server_connections(clients) == []


async def test_a_silent_call_is_hung_up_and_the_interview_can_be_rejoined(
    runtime: Runtime, clients: list[_Client]
) -> None:
    _, manager = _manager(runtime, max_silent_s=3.0)
    interview_id, _ = await make_interview(runtime)
    try:
        caller = _Client()
        clients.append(caller)
        await caller.answer(await manager.join(interview_id, await caller.offer(), "offer"))
        asked = await caller.next_event("turn")  # the interviewer speaks first; then nobody does
        hangup = await caller.next_event("hangup")
        assert hangup["reason"] == "silence"
        await _wait_until(lambda: not manager.rooms)
        # ... and closed in full: connection, session, recording.
        await _wait_until(lambda: not _server_connections(clients) and _recording_leftovers() == ([], []))
        async with unit_of_work(runtime.sessions) as session:
            row = await queries.get_interview(session, interview_id)
        assert row is not None
        assert row.state != "ended"  # hung up, not finished: it can go on
        # The candidate comes back: the same interview, at the question it was on.
        back = _Client()
        clients.append(back)
        await back.answer(await manager.join(interview_id, await back.offer(), "offer"))
        again = await back.next_event("turn")
        assert again["speaker"] == "interviewer"
        assert again["question_index"] == asked["question_index"]
        assert list(manager.rooms) == [interview_id]
    finally:
        await manager.close()


async def test_a_call_that_runs_too_long_is_hung_up(runtime: Runtime, clients: list[_Client]) -> None:
    _, manager = _manager(runtime, max_call_s=2.0, max_silent_s=600.0)
    interview_id, _ = await make_interview(runtime)
    try:
        caller = _Client()
        clients.append(caller)
        await caller.answer(await manager.join(interview_id, await caller.offer(), "offer"))
        hangup = await caller.next_event("hangup")
        assert hangup["reason"] == "max_duration"
        await _wait_until(lambda: not manager.rooms)
    finally:
        await manager.close()


VIDEO_NO_COMMON_CODEC = (
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:55bw\r\n"
    "a=ice-pwd:1ErkHYEcF5+Uoz5DnOEKSQNx\r\n"
    "a=fingerprint:sha-256 61:42:84:EA:F8:D7:3B:9E:19:4B:80:C6:60:D3:71:57:AF:CD:C8:00:02:9A:39:1D:72:44:71:"
    "BD:C5:F8:96:79\r\na=setup:actpass\r\na=mid:2\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:96 FOO/90000\r\n"
)


def _with_video(offer: str) -> str:
    return offer.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2") + VIDEO_NO_COMMON_CODEC


async def test_offers_aiortc_refuses_are_400_and_leave_nothing_behind(
    runtime: Runtime, clients: list[_Client]
) -> None:
    own, manager = _manager(runtime)
    interview_id, token = await make_interview(runtime)
    app = create_app(own.settings, runtime=own)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=120) as http:

            async def post(sdp: str) -> httpx.Response:
                return await http.post(
                    f"/api/interviews/{interview_id}/offer",
                    json={"sdp": sdp, "type": "offer", "token": token},
                )

            caller = _Client()
            clients.append(caller)
            live_offer = await caller.offer()
            bad = [_with_video(CHROMIUM_OFFER), _with_video(live_offer)]
            for sdp in bad:  # warm-up: the loop's worker threads for file closing start here once
                assert (await post(sdp)).status_code == 400
            threads_before = threading.active_count()
            udp_before = _udp_sockets()
            for sdp in bad * 3:
                r = await post(sdp)
                assert r.status_code == 400, r.text
                assert r.json()["error"]["code"] == "InvalidSessionDescriptionError"
                assert "negotiate" in r.json()["error"]["message"]
            # A media section with no codec in common: nothing of the refused call lives on.
            assert manager.rooms == {}
            assert _server_connections(clients) == []
            assert _recording_leftovers() == ([], [])
            assert threading.active_count() <= threads_before
            assert _udp_sockets() <= udp_before
            # An Opus line aiortc would not negotiate as Opus is refused before negotiating.
            r = await post(live_offer.replace("opus/48000/2", "opus/16000"))
            assert r.status_code == 400
            assert "Opus" in r.json()["error"]["message"]
            # The same client's real offer still joins.
            r = await post(live_offer)
            assert r.status_code == 200, r.text
            assert list(manager.rooms) == [interview_id]
    finally:
        await manager.close()
    assert _server_connections(clients) == []
    assert _recording_leftovers() == ([], [])


def _mutations(base: str, count: int, seed: int) -> list[str]:
    """Offers a browser, a proxy or an attacker might send: the real offer with lines dropped,
    doubled, truncated, values replaced, sections added. Deterministic for a seed."""
    rng = random.Random(seed)
    lines = base.split("\r\n")[:-1]
    junk = ["", "-1", "0", "99999999999", "x" * 300, "\u00e9\u00e8", "%s%n", "a=b=c", "::::", " ", "\t"]
    out: list[str] = []
    for _ in range(count):
        ls = list(lines)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(1, len(ls))
            match rng.randrange(8):
                case 0:
                    del ls[i]
                case 1:
                    ls.insert(i, ls[i])
                case 2:
                    key, _, _ = ls[i].partition(":")
                    ls[i] = f"{key}:{rng.choice(junk)}"
                case 3:
                    words = ls[i].split(" ")
                    words[rng.randrange(len(words))] = rng.choice(junk)
                    ls[i] = " ".join(words)
                case 4:
                    ls[i] = ls[i][: rng.randrange(len(ls[i]) + 1)]
                case 5:
                    ls.insert(
                        i,
                        rng.choice(
                            [
                                "a=sendonly",
                                "a=recvonly",
                                "a=inactive",
                                "a=setup:holdconn",
                                "a=rtpmap:300 opus/48000/2",
                                "a=ssrc:-5 cname:x",
                                "a=mid:0",
                            ]
                        ),
                    )
                case 6:
                    ls = ls[:i]
                case _:
                    ls[i] = ls[i].replace("111", str(rng.choice([0, 35, 127, 128, 65536])))
        sdp = "\r\n".join(ls) + "\r\n"
        out.append(_with_video(sdp) if rng.random() < 0.15 else sdp)
    return out


async def test_fuzzed_browser_offers_are_answered_or_refused_never_500(
    runtime: Runtime, clients: list[_Client]
) -> None:
    own, manager = _manager(runtime, record_calls=True)
    interview_id, token = await make_interview(runtime)
    app = create_app(own.settings, runtime=own)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    statuses: dict[int, int] = {}
    udp_before = _udp_sockets()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=120) as http:
            for sdp in _mutations(CHROMIUM_OFFER, count=40, seed=13):
                r = await http.post(
                    f"/api/interviews/{interview_id}/offer",
                    json={"sdp": sdp, "type": "offer", "token": token},
                )
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                assert r.status_code in (200, 400), (r.status_code, r.text, sdp)
                if r.status_code == 400:
                    assert r.json()["error"]["code"] == "InvalidSessionDescriptionError"
                else:
                    assert len(manager.rooms) == 1  # a new offer replaces the interview's room
    finally:
        await manager.close()
    # Both outcomes were exercised, and nothing outlived the calls.
    assert statuses.get(400, 0) > 0, statuses
    assert statuses.get(200, 0) > 0, statuses
    left = _server_connections(clients)
    assert left == [], [
        (pc.signalingState, pc.connectionState, [i.state for i in _ice_transports(pc)]) for pc in left
    ]
    assert _recording_leftovers() == ([], [])
    assert _udp_sockets() <= udp_before


async def test_the_candidate_page_hears_of_the_hang_up(runtime: Runtime) -> None:
    """The hang-up reaches the candidate's live stream (the page then offers to join again instead
    of rejoining by itself); nothing else of the event does."""
    from db import events
    from signaling.routes.live import _CandidateStream

    interview_id, _ = await make_interview(runtime)
    stream = _CandidateStream(runtime, interview_id)
    channel = events.interview_channel(interview_id)
    out = await stream.on_event(channel, {"type": "hangup", "reason": "silence", "internal": "x"})
    assert out == [{"type": "hangup", "reason": "silence"}]
    assert await stream.on_event(channel, {"type": "score", "overall": 90}) == []
