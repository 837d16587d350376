"""More rooms than one process holds: two ``serve`` processes behind nginx, recorded answers.

Starts the cluster (``bench/cluster.py``: embedded Postgres and Redis, two real ``serve``
processes, nginx with the rendered configuration) and runs ``--rooms`` interviews at once through
the proxy, each answering ``--questions`` questions with recorded speech, with two faults on the way:

- room 0's client hangs up after its first answer and rejoins directly through the *other*
  process: the room must be taken over and resume at the same question;
- once every room has answered once, the process running the most rooms is SIGKILLed: its rooms'
  clients rejoin through the proxy (503 with Retry-After while the survivor is full: they wait and
  try again) and must resume at their question with no answer lost.

One room (the last) has an interviewer listening in for the whole call, through an aiortc
receive-only client signed in as an interviewer: ``listen_join_ms`` is the offer posted to the
first audio frame received (the mix streams silence between voices; the first voice heard is
printed too); ``listen_delay_ms`` is the candidate's speech leaving the client's
microphone to it reaching the listener (p50 over that room's answers, both on this machine's
clock). ``next_question_*`` come from the server's own per-turn figure (answer end to the next
line starting), for all rooms and for the listened room against the others.

Last line: processes rooms completed next_question_p50_ms next_question_p95_ms takeovers
lease_conflicts duplicate_turns answers_lost resumed_same_question listen_join_ms listen_delay_ms
next_question_listened_p50_ms next_question_unlistened_p50_ms

    python -m bench.scale_out [--rooms 8] [--questions 3] [--max-rooms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.cluster import Cluster, ClusterOptions, ServeProcess
from bench.fault_candidate import Candidate

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
RESUME = FIXTURES / "resumes" / "en_resumematcher_harvey_dent_mle.pdf"
ANSWERS = (
    FIXTURES / "audio" / "jfk.flac",
    FIXTURES / "audio" / "en_librispeech_1089-134686-0000.flac",
    FIXTURES / "audio" / "en_ljspeech_LJ050-0131.wav",
    FIXTURES / "audio" / "en_librispeech_1089-134686-0002.flac",
    FIXTURES / "audio" / "en_picovoice_cheetah_test_en.wav",
)
LISTENER = ("bench-listener", "listen-" + "x" * 16)
VOICED_RMS = 300.0
"""int16 RMS of a 20 ms frame above which it is speech (the mix's silence is exact zeros)."""


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, q))


def _ms(value: float | None) -> str:
    return "na" if value is None else str(round(value * 1000))


def _say(line: str) -> None:
    print(line, flush=True)


class Listener:
    """An interviewer listening in from an aiortc receive-only connection: frames' arrival times
    and loudness, to find when the candidate's speech reached the listener."""

    def __init__(self, base_url: str, interview_id: str) -> None:
        self.base_url = base_url
        self.interview_id = interview_id
        self.frames: list[tuple[float, float]] = []
        self.posted_at: float | None = None
        self.first_audible_at: float | None = None
        self.first_frame_at: float | None = None
        self._pc: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import httpx
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from media.ice import enable_loopback_candidates, rtc_configuration

        enable_loopback_candidates()
        pc = RTCPeerConnection(rtc_configuration([]))
        pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def _on_track(track: Any) -> None:
            self._task = asyncio.create_task(self._consume(track))

        await pc.setLocalDescription(await pc.createOffer())
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60) as http:
            r = await http.post("/api/auth/login", json={"name": LISTENER[0], "password": LISTENER[1]})
            r.raise_for_status()
            self.posted_at = time.monotonic()
            r = await http.post(
                f"/api/interviews/{self.interview_id}/listen",
                json={"sdp": pc.localDescription.sdp, "type": "offer"},
            )
            r.raise_for_status()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=r.json()["sdp"], type="answer"))
        self._pc = pc

    async def _consume(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                pcm = frame.to_ndarray().astype(np.float32).reshape(-1)
                rms = float(np.sqrt(np.mean(pcm * pcm))) if pcm.size else 0.0
                self.frames.append((now, rms))
                if self.first_frame_at is None:
                    self.first_frame_at = now
                if self.first_audible_at is None and rms > VOICED_RMS:
                    self.first_audible_at = now

    def onset_after(self, t: float, before: float) -> float | None:
        return next((at for at, rms in self.frames if t <= at < before and rms > VOICED_RMS), None)

    async def stop(self) -> None:
        if self._pc is not None:
            with contextlib.suppress(Exception):
                await self._pc.close()
        if self._task is not None:
            self._task.cancel()


def _lead_in_s(path: Path) -> float:
    """Where speech starts in an answer file (the mic plays it from its first sample)."""
    from media.files import load_audio

    samples = load_audio(path, 48_000).astype(np.float32)
    frame = 960
    for i in range(0, len(samples) - frame, frame):
        chunk = samples[i : i + frame]
        if float(np.sqrt(np.mean(chunk * chunk))) > VOICED_RMS:
            return i / 48_000
    return 0.0


class Room:
    def __init__(self, index: int, candidate: Candidate) -> None:
        self.index = index
        self.candidate = candidate
        self.ended = False
        self.acknowledged = 0
        """Answers the server heard: a new question (or the end) came after each."""
        self.resumed: list[bool] = []
        self.error: str | None = None
        self.listener: Listener | None = None
        self.speech_starts: list[tuple[float, float]] = []
        """(when the candidate's speech left the mic, when the answer ended) per answer."""


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cluster = Cluster(
            ClusterOptions(
                processes=2,
                max_rooms=args.max_rooms,
                env={"INTERVIEWER_EVALUATION": "false"},
                interviewers={LISTENER[0]: LISTENER[1]},
            )
        )
        self.killed: ServeProcess | None = None
        self.kill_event = asyncio.Event()
        self.first_answers = 0
        self.all_answered_once = asyncio.Event()
        self.rejoined_by_hand = asyncio.Event()
        """Room 0's rejoin through the other process is done: the kill comes after it, so the two
        faults do not overlap (the kill would leave no other process to rejoin through)."""
        self.lead_in = {p: _lead_in_s(p) for p in ANSWERS}

    async def make_room(self, index: int) -> Room:
        import httpx

        async with httpx.AsyncClient(base_url=self.cluster.url, timeout=300) as http:
            r = await http.post("/api/resumes", files={"file": (RESUME.name, RESUME.read_bytes())})
            r.raise_for_status()
            r = await http.post(
                "/api/interviews",
                json={
                    "resume_id": r.json()["id"],
                    "question_count": self.args.questions,
                    "follow_ups": False,
                },
            )
            r.raise_for_status()
        created = r.json()
        return Room(
            index, Candidate(self.cluster.url, created["id"], created["join_token"], step_timeout_s=300)
        )

    def process_of(self, served_by: str) -> ServeProcess | None:
        with contextlib.suppress(ValueError, IndexError):
            pid = int(served_by.split("-")[-2])
            return next((p for p in self.cluster.processes if p.proc.pid == pid), None)
        return None

    async def join(self, room: Room, base_url: str | None = None) -> None:
        """Join, waiting out 503s (Retry-After) while every process is full."""
        for _ in range(120):
            try:
                await room.candidate.join(base_url)
                return
            except RuntimeError as exc:
                if "503" not in str(exc):
                    raise
                await asyncio.sleep(5)
        raise RuntimeError("never got a room")

    async def next_question(self, room: Room) -> dict[str, Any] | str | None:
        """The next question, None at the end, or "killed" when this room's process was killed."""
        asked = asyncio.ensure_future(room.candidate.next_question())
        killed = asyncio.ensure_future(self.kill_event.wait())
        done, _ = await asyncio.wait({asked, killed}, return_when=asyncio.FIRST_COMPLETED)
        if asked in done:
            killed.cancel()
            return asked.result()
        owner = self.process_of(room.candidate.served_by[-1])
        if owner is not None and owner is self.killed:
            asked.cancel()
            return "killed"
        return await asked

    async def run_room(self, room: Room) -> None:
        c = room.candidate
        try:
            await self.join(room)
            if room.listener is not None:
                await room.listener.start()
            current: dict[str, Any] | None = None
            answers = 0
            rejoined_by_hand = False
            while True:
                got = await self.next_question(room)
                if got == "killed":
                    index = current["question_index"] if current else None
                    await c.hangup()
                    await self.join(room)  # through the proxy: the survivor
                    again = await room.candidate.next_question()
                    room.resumed.append(
                        again is not None and index is not None and again["question_index"] == index
                    )
                    current = again
                    if again is None:
                        room.ended = True
                        return
                    self.kill_event = asyncio.Event()  # a room is killed once
                    continue
                if got is None:
                    room.ended = True
                    room.acknowledged += 1 if answers else 0
                    return
                assert isinstance(got, dict)
                if current is not None and got["question_index"] != current["question_index"]:
                    room.acknowledged += 1
                current = got
                if room.index == 0 and answers == 1 and not rejoined_by_hand:
                    # The reload that lands on the other process.
                    rejoined_by_hand = True
                    owner = self.process_of(c.served_by[-1])
                    other = next(p for p in self.cluster.processes if p is not owner and p.alive())
                    index = got["question_index"]
                    await c.hangup()
                    await self.join(room, other.url)
                    again = await c.next_question()
                    room.resumed.append(again is not None and again["question_index"] == index)
                    self.rejoined_by_hand.set()
                    if again is None:
                        room.ended = True
                        return
                    current = again
                path = ANSWERS[(room.index + answers) % len(ANSWERS)]
                started = time.monotonic() + 0.3  # Candidate.answer waits 0.3 s before playing
                await c.answer(path)
                room.speech_starts.append((started + self.lead_in[path], time.monotonic()))
                answers += 1
                if answers == 1:
                    self.first_answers += 1
                    if self.first_answers == self.args.rooms:
                        self.all_answered_once.set()
        except Exception as exc:  # counted: a room that did not complete
            room.error = f"{type(exc).__name__}: {exc}"
            _say(f"  room {room.index}: {room.error}")
        finally:
            if room.index == 0:
                self.rejoined_by_hand.set()  # never leave the kill waiting
            if room.listener is not None:
                await room.listener.stop()
            await c.hangup()

    async def killer(self, rooms: list[Room]) -> None:
        try:
            await asyncio.wait_for(self.all_answered_once.wait(), 900)
            await asyncio.wait_for(self.rejoined_by_hand.wait(), 900)
        except TimeoutError:
            _say("  the kill never happened: not every room answered once")
            return
        counts: dict[int, int] = {}
        for room in rooms:
            if room.ended or not room.candidate.served_by:
                continue
            owner = self.process_of(room.candidate.served_by[-1])
            if owner is not None:
                counts[owner.port] = counts.get(owner.port, 0) + 1
        if not counts:
            return
        port = max(counts, key=lambda p: counts[p])
        self.killed = self.cluster.process_for(port)
        _say(f"  SIGKILL {self.killed.name} (running {counts[port]} rooms)")
        self.cluster.kill(self.killed)
        self.kill_event.set()

    async def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        _say(f"starting 2 serve processes and nginx in {self.cluster.tmp} ...")
        await self.cluster.start()
        _say(f"cluster ready in {time.monotonic() - t0:.0f} s at {self.cluster.url}")
        rooms = [await self.make_room(i) for i in range(self.args.rooms)]
        rooms[-1].listener = Listener(self.cluster.url, rooms[-1].candidate.interview_id)
        _say(f"{len(rooms)} interviews planned; calling")
        t1 = time.monotonic()
        await asyncio.gather(self.killer(rooms), *(self.run_room(r) for r in rooms))
        _say(f"calls done in {time.monotonic() - t1:.0f} s")
        return await self.figures(rooms)

    async def figures(self, rooms: list[Room]) -> dict[str, Any]:
        import asyncpg  # type: ignore[import-untyped]

        ids = [r.candidate.interview_id for r in rooms]
        conn = await asyncpg.connect(self.cluster.pg.url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            completed = await conn.fetchval(
                "SELECT count(*) FROM interviews WHERE id = ANY($1::uuid[]) AND state = 'ended'", ids
            )
            dup = await conn.fetchval(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM turns"
                " WHERE interview_id = ANY($1::uuid[])"
                " GROUP BY interview_id, speaker, text, started_s, ended_s) g",
                ids,
            )
            stored = {
                str(row["interview_id"]): row["n"]
                for row in await conn.fetch(
                    "SELECT interview_id, count(*) AS n FROM turns WHERE interview_id = ANY($1::uuid[])"
                    " AND speaker = 'candidate' GROUP BY interview_id",
                    ids,
                )
            }
        finally:
            await conn.close()
        lost = sum(max(0, r.acknowledged - stored.get(r.candidate.interview_id, 0)) for r in rooms)
        takeovers = conflicts = 0.0
        for p in self.cluster.processes:
            if p.alive():
                text = await asyncio.to_thread(_metrics, p.url)
                takeovers += _metric(text, "interviewer_room_takeovers_total")
                conflicts += _metric(text, "interviewer_room_lease_conflicts_total")

        def next_q(room: Room) -> list[float]:
            return [
                float(e["latencies"]["next_question_s"])
                for e in room.candidate.events
                if e.get("type") == "turn"
                and e.get("speaker") == "interviewer"
                and isinstance((e.get("latencies") or {}).get("next_question_s"), int | float)
            ]

        all_next = [v for r in rooms for v in next_q(r)]
        listened = [r for r in rooms if r.listener is not None]
        unlistened = [v for r in rooms if r.listener is None for v in next_q(r)]
        listened_next = [v for r in listened for v in next_q(r)]
        join_ms: float | None = None
        voice_ms: float | None = None
        delays: list[float] = []
        for r in listened:
            assert r.listener is not None
            if r.listener.posted_at is not None:
                if r.listener.first_frame_at is not None:
                    join_ms = r.listener.first_frame_at - r.listener.posted_at
                if r.listener.first_audible_at is not None:
                    voice_ms = r.listener.first_audible_at - r.listener.posted_at
            for spoke_at, ended in r.speech_starts:
                heard = r.listener.onset_after(spoke_at - 0.05, ended + 1.0)
                if heard is not None:
                    delays.append(heard - spoke_at)
        for r in rooms:
            pids = [s.split("-")[-2] for s in r.candidate.served_by]
            kept = stored.get(r.candidate.interview_id, 0)
            _say(
                f"  room {r.index}: ended={r.ended} served_by_pids={pids} answers_heard={r.acknowledged}"
                f" stored_candidate_turns={kept} resumed={r.resumed} next_question_s={next_q(r)}"
                + (f" error={r.error}" if r.error else "")
            )
        _say(f"  listen delays (s): {[round(d, 3) for d in delays]}")
        _say(f"  listener: offer posted to first frame {_ms(join_ms)} ms, to first voice {_ms(voice_ms)} ms")
        resumed = [ok for r in rooms for ok in r.resumed]
        return {
            "processes": len(self.cluster.processes),
            "rooms": len(rooms),
            "completed": completed,
            "next_question_p50_ms": _ms(_pct(all_next, 50)),
            "next_question_p95_ms": _ms(_pct(all_next, 95)),
            "takeovers": int(takeovers),
            "lease_conflicts": int(conflicts),
            "duplicate_turns": dup,
            "answers_lost": lost,
            "resumed_same_question": f"{sum(resumed)}/{len(resumed)}",
            "listen_join_ms": _ms(join_ms),
            "listen_delay_ms": _ms(statistics.median(delays) if delays else None),
            "next_question_listened_p50_ms": _ms(_pct(listened_next, 50)),
            "next_question_unlistened_p50_ms": _ms(_pct(unlistened, 50)),
        }


def _metrics(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def _metric(text: str, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE))


async def main(args: argparse.Namespace) -> int:
    bench = Bench(args)
    try:
        figures = await bench.run()
    finally:
        await bench.cluster.close()
    print(" ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=8, help="interviews at once (default 8)")
    parser.add_argument("--questions", type=int, default=3, help="questions per interview (default 3)")
    parser.add_argument(
        "--max-rooms",
        type=int,
        default=5,
        help="calls each process may run (default 5: the survivor of the kill absorbs most)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
