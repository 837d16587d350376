"""The recorded-audio harness: drives a whole interview through the same WebRTC path a browser uses.

A real aiortc client uploads the resume, creates the interview, joins the call, and after each
question has finished playing answers with the next audio file, in real time, as 20 ms frames.
It measures at the client what a candidate hears: **first audio**, from the last voiced frame of an
answer to the first agent audio frame that arrives. The server's per-turn stage latencies come back
in the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.files import FileAudioTrack, load_audio
from media.ice import enable_loopback_candidates, rtc_configuration

_VOICED_RMS = 300.0  # int16 RMS above which a 20 ms frame counts as voiced (speech is ~1000-8000)
_RATE = 48_000


class HarnessError(Exception):
    """The simulated interview could not be completed."""


@dataclass(frozen=True, slots=True)
class SpokenAnswer:
    """An answer built from recordings: files and pauses (seconds) played in order, so a candidate's
    thinking pauses are kept; optionally a part that resumes the answer after the interviewer has
    begun its next line (a false end of turn), and a backchannel over the next question."""

    parts: tuple[Path | float, ...]
    resume: tuple[Path | float, ...] = ()
    """Played ``resume_delay_s`` after the interviewer's next line starts (or after
    ``resume_wait_s`` if it never does: a patient interviewer)."""
    resume_delay_s: float = 1.0
    resume_wait_s: float = 8.0
    backchannel: Path | None = None
    """Played ``backchannel_delay_s`` after the next question's first audio."""
    backchannel_delay_s: float = 3.5

    @property
    def files(self) -> tuple[Path, ...]:
        paths = [p for p in (*self.parts, *self.resume) if isinstance(p, Path)]
        return (*paths, *([self.backchannel] if self.backchannel else []))

    @property
    def name(self) -> str:
        return "+".join(p.stem if isinstance(p, Path) else f"{p:g}s" for p in self.parts)


Answer = Path | SpokenAnswer


@dataclass(frozen=True, slots=True)
class HarnessOptions:
    base_url: str
    resume: Path
    answers: tuple[Answer, ...]
    language: str | None = None
    question_count: int | None = None
    """Planned questions; default: one per answer file."""
    follow_ups: bool = True
    """Let the interviewer ask follow-ups (each takes the next answer file)."""
    answer_delay_s: float = 0.3
    """Pause after a question ends before the candidate starts answering."""
    step_timeout_s: float = 90.0
    """Longest wait for the interviewer's next question (model load and cold caches included)."""
    before_join: Callable[[str], Awaitable[None]] | None = None
    """Awaited with the interview id between creating the interview and joining the call (a
    benchmark lets background pre-synthesis finish, as it would before a real candidate joins)."""

    def __post_init__(self) -> None:
        if not self.answers:
            raise ValueError("give at least one answer file")
        files = [
            a
            for answer in self.answers
            for a in (answer.files if isinstance(answer, SpokenAnswer) else (answer,))
        ]
        for path in (self.resume, *files):
            if not Path(path).is_file():
                raise FileNotFoundError(f"no such file: {path}")


@dataclass
class ClientTurn:
    answer: str
    question: str
    answer_s: float
    first_audio_s: float | None = None
    """Last voiced frame of the answer sent -> first voiced agent frame received."""
    cutoffs: int = 0
    """Interviewer speech that began while the answer's own parts were still playing."""
    resume_stop_s: float | None = None
    """The resumed part's first voiced frame sent -> the last interviewer frame received after it."""
    interviewer_started_before_resume: bool | None = None
    backchannel_stopped: bool | None = None
    """Whether the question the backchannel was said over was cut (stored as interrupted)."""


@dataclass
class HarnessResult:
    interview_id: str
    ended: bool
    reason: str = ""
    join_token: str = ""
    """Reads this interview's transcript and recordings (``Authorization: Bearer ...``)."""
    turns: list[ClientTurn] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    first_question_s: float | None = None
    """Joining (creating the offer) -> the first voiced frame of the opening question received."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def trailing_silence_s(samples: np.ndarray, rate: int) -> float:
    """Seconds of unvoiced audio at the end of a recording (so 'end of answer' is its last word)."""
    frame = rate // 50
    n = len(samples) // frame
    for i in range(n - 1, -1, -1):
        chunk = samples[i * frame : (i + 1) * frame].astype(np.float64)
        if np.sqrt(np.mean(chunk * chunk)) > _VOICED_RMS:
            return (len(samples) - (i + 1) * frame) / rate
    return len(samples) / rate


class _AgentAudio:
    """Watches the agent's audio as it arrives: when was each voiced frame received."""

    def __init__(self) -> None:
        self.voiced_after: list[tuple[float, asyncio.Future[float]]] = []
        self.voiced: list[float] = []
        self.task: asyncio.Task[None] | None = None

    def onsets_between(self, start: float, end: float, gap_s: float = 0.3) -> int:
        """Separate stretches of agent speech that began in [start, end]."""
        onsets, previous = 0, None
        for t in self.voiced:
            if start <= t <= end and (previous is None or t - previous > gap_s):
                onsets += 1
            previous = t
        return onsets

    def last_voiced_between(self, start: float, end: float) -> float | None:
        inside = [t for t in self.voiced if start <= t <= end]
        return inside[-1] if inside else None

    def first_voiced_after(self, t: float) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.voiced_after.append((t, future))
        return future

    async def consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            if not isinstance(frame, av.AudioFrame):
                continue
            pcm = frame.to_ndarray().astype(np.float64)
            if np.sqrt(np.mean(pcm * pcm)) <= _VOICED_RMS:
                continue
            self.voiced.append(now)
            for t, future in list(self.voiced_after):
                if now >= t and not future.done():
                    future.set_result(now)
                    self.voiced_after.remove((t, future))


async def run(options: HarnessOptions) -> HarnessResult:
    enable_loopback_candidates()
    async with httpx.AsyncClient(base_url=options.base_url, timeout=120) as http:
        with open(options.resume, "rb") as f:  # noqa: ASYNC230 - a resume is small
            data = f.read()
        resp = await http.post("/api/resumes", files={"file": (options.resume.name, data)})
        _check(resp)
        resume_id = resp.json()["id"]
        body: dict[str, Any] = {
            "resume_id": resume_id,
            "question_count": options.question_count or len(options.answers),
            "follow_ups": options.follow_ups,
        }
        if options.language:
            body["language"] = options.language
        resp = await http.post("/api/interviews", json=body)
        _check(resp)
        interview = resp.json()
        interview_id, token = interview["id"], interview["join_token"]
        result = HarnessResult(interview_id=interview_id, ended=False, join_token=token)

        pc = RTCPeerConnection(rtc_configuration([]))
        mic = FileAudioTrack()
        pc.addTrack(mic)
        channel = pc.createDataChannel("events")
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        channel.on(
            "message", lambda msg: events.put_nowait({**json.loads(msg), "_client_at": time.monotonic()})
        )
        agent_audio = _AgentAudio()

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                agent_audio.task = asyncio.create_task(agent_audio.consume(track))

        if options.before_join is not None:
            await options.before_join(interview_id)
        joined_at = time.monotonic()
        first_audio = agent_audio.first_voiced_after(joined_at)
        try:
            await pc.setLocalDescription(await pc.createOffer())
            resp = await http.post(
                f"/api/interviews/{interview_id}/offer",
                json={"sdp": pc.localDescription.sdp, "type": "offer"},
                headers={"Authorization": f"Bearer {token}"},
            )
            _check(resp)
            await pc.setRemoteDescription(
                RTCSessionDescription(**{k: resp.json()[k] for k in ("sdp", "type")})
            )
            await _converse(options, mic, events, agent_audio, result)
            if first_audio.done():
                result.first_question_s = round(first_audio.result() - joined_at, 3)
        finally:
            with contextlib.suppress(Exception):
                await pc.close()
            if agent_audio.task is not None:
                agent_audio.task.cancel()
        resp = await http.get(
            f"/api/interviews/{interview_id}/turns", headers={"Authorization": f"Bearer {token}"}
        )
        _check(resp)
        result.transcript = resp.json()
    return result


async def _next_question(
    events: asyncio.Queue[dict[str, Any]], result: HarnessResult, timeout_s: float
) -> dict[str, Any] | None:
    """The next interviewer turn that asks something; None once the interview has ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HarnessError(f"no question from the interviewer within {timeout_s:.0f} s")
        try:
            event = await asyncio.wait_for(events.get(), remaining)
        except TimeoutError as exc:
            raise HarnessError(f"no word from the interviewer within {timeout_s:.0f} s") from exc
        result.events.append(event)
        if event.get("type") in ("ended", "error"):
            result.reason = str(event.get("reason") or event.get("message") or event["type"])
            result.ended = event.get("type") == "ended"
            return None
        if event.get("type") == "turn" and event.get("speaker") == "interviewer":
            if event.get("kind") == "close" and not event.get("interrupted"):
                continue  # the "ended" event follows
            if event.get("interrupted") or event.get("kind") == "prompt":
                continue  # given back (the candidate went on) or a prompt: no new question
            return event


def _voiced_span(samples: np.ndarray, keep_s: float = 0.1) -> np.ndarray:
    """The recording from its first to its last voiced frame (``keep_s`` either side): a pause
    between parts is then exactly the pause asked for; pauses inside a recording are kept."""
    keep = round(keep_s * _RATE)
    start = max(0, round(_leading_silence_s(samples, _RATE) * _RATE) - keep)
    end = min(len(samples), len(samples) - round(trailing_silence_s(samples, _RATE) * _RATE) + keep)
    return samples[start:end] if end > start else samples


def _samples(parts: Sequence[Path | float]) -> np.ndarray:
    joined = len(parts) > 1
    chunks = [
        (_voiced_span(load_audio(p, _RATE)) if joined else load_audio(p, _RATE))
        if isinstance(p, Path)
        else np.zeros(round(p * _RATE), dtype=np.int16)
        for p in parts
    ]
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, dtype=np.int16)


def _leading_silence_s(samples: np.ndarray, rate: int) -> float:
    return trailing_silence_s(samples[::-1].copy(), rate)


async def _converse(
    options: HarnessOptions,
    mic: FileAudioTrack,
    events: asyncio.Queue[dict[str, Any]],
    agent_audio: _AgentAudio,
    result: HarnessResult,
) -> None:
    answers = list(options.answers)
    backchannel_at: float | None = None
    backchannel_turn: ClientTurn | None = None
    while True:
        question = await _next_question(events, result, options.step_timeout_s)
        if backchannel_turn is not None and backchannel_at is not None:
            backchannel_turn.backchannel_stopped = any(
                e.get("interrupted")
                and e.get("speaker") == "interviewer"
                and e["_client_at"] > backchannel_at
                for e in result.events
            )
            backchannel_turn = backchannel_at = None
        if question is None:
            return
        if not answers:
            # More questions than answer files (follow-ups took some): hang up and say so.
            result.reason = "ran out of answer files; give more, or --no-follow-ups"
            return
        answer = answers.pop(0)
        spoken = answer if isinstance(answer, SpokenAnswer) else SpokenAnswer(parts=(answer,))
        await asyncio.sleep(options.answer_delay_s)
        samples = await asyncio.to_thread(_samples, spoken.parts)
        tail = trailing_silence_s(samples, _RATE)
        started = time.monotonic() + _leading_silence_s(samples, _RATE)
        mic.play(samples)
        last_frame = await mic.wait_done()
        answer_end = last_frame - tail
        turn = ClientTurn(
            answer=spoken.name, question=str(question.get("text", "")), answer_s=len(samples) / _RATE
        )
        turn.cutoffs = agent_audio.onsets_between(started, answer_end)
        result.turns.append(turn)
        if spoken.resume:
            began = agent_audio.first_voiced_after(answer_end)
            try:
                await asyncio.wait_for(asyncio.shield(began), spoken.resume_wait_s)
                turn.interviewer_started_before_resume = True
            except TimeoutError:
                turn.interviewer_started_before_resume = False
            await asyncio.sleep(spoken.resume_delay_s)
            more = await asyncio.to_thread(_samples, spoken.resume)
            resume_at = time.monotonic() + _leading_silence_s(more, _RATE)
            mic.play(more)
            last_frame = await mic.wait_done()
            answer_end = last_frame - trailing_silence_s(more, _RATE)
            if turn.interviewer_started_before_resume:
                last = agent_audio.last_voiced_between(resume_at, answer_end)
                turn.resume_stop_s = round(max(0.0, (last or resume_at) - resume_at), 3)
            turn.answer_s += (len(more) / _RATE) + spoken.resume_delay_s
        first = agent_audio.first_voiced_after(answer_end)
        with contextlib.suppress(TimeoutError):
            turn.first_audio_s = round(await asyncio.wait_for(first, options.step_timeout_s) - answer_end, 3)
        if spoken.backchannel is not None and turn.first_audio_s is not None:
            await asyncio.sleep(spoken.backchannel_delay_s)
            clip = await asyncio.to_thread(load_audio, spoken.backchannel, _RATE)
            backchannel_at = time.monotonic()
            mic.play(clip)
            backchannel_turn = turn


def _check(resp: httpx.Response) -> None:
    if resp.status_code >= 400:
        raise HarnessError(
            f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {resp.text}"
        )


def exchanges(transcript: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each candidate turn with the interviewer turn that answered it."""
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for i, turn in enumerate(transcript):
        if turn["speaker"] == "candidate":
            reply = next((t for t in transcript[i + 1 :] if t["speaker"] == "interviewer"), None)
            pairs.append((turn, reply))
    return pairs


def format_result(result: HarnessResult) -> str:
    status = "ended" if result.ended else f"NOT ended: {result.reason}"
    lines = [f"interview {result.interview_id}  ({status})", ""]
    for t in result.transcript:
        who = "Interviewer" if t["speaker"] == "interviewer" else "Candidate  "
        lines.append(f"{who} {t['text']}")
    header = ("answer", "first audio", "(client)", "next question", "endpoint", "stt final", "tts first")
    lines += ["", "{:<34} {:>11} {:>9} {:>13} {:>9} {:>9} {:>9}".format(*header)]
    pairs = exchanges(result.transcript)
    for i, turn in enumerate(result.turns):
        answer, reply = pairs[i] if i < len(pairs) else ({"latencies": {}}, None)
        rl = reply["latencies"] if reply else {}
        al = answer["latencies"]
        lines.append(
            f"{turn.answer[:34]:<34} {_ms(rl.get('first_audio_s')):>11} {_ms(turn.first_audio_s):>9} "
            f"{_ms(rl.get('next_question_s')):>13} {_ms(al.get('endpointing_s')):>9} "
            f"{_ms(al.get('stt_final_s')):>9} {_ms(rl.get('tts_ttfb_s')):>9}"
        )
    return "\n".join(lines)


def _ms(value: object) -> str:
    return f"{float(value) * 1000:.0f} ms" if isinstance(value, int | float) else "-"


async def main(options: HarnessOptions, *, as_json: bool) -> int:
    result = await run(options)
    print(result.to_json() if as_json else format_result(result))
    return 0 if result.ended and all(t.first_audio_s is not None for t in result.turns) else 1


def parse_answers(values: Sequence[str]) -> tuple[Path, ...]:
    return tuple(Path(v) for v in values)
