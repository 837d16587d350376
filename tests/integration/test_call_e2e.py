"""Whole interviews over real WebRTC (aiortc on loopback), real models, real Postgres and Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import jiwer
import numpy as np
import pytest
import soundfile as sf
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from agent.errors import CapacityError
from media.files import FileAudioTrack, load_audio
from media.frames import StreamResampler
from media.ice import enable_loopback_candidates, rtc_configuration
from signaling import harness, http_errors
from signaling.app import create_app
from signaling.background import serve_in_background
from signaling.calls import CallManager
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.fixtures_paths import shared_fixture
from tests.resume_factory import EN_RESUME, KO_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSWER_A = "audio/en_librispeech_1089-134686-0000.flac"
ANSWER_B = "audio/en_librispeech_1089-134686-0002.flac"


@pytest.fixture(scope="module")
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    async with serve_in_background(create_app(settings, runtime=runtime), lifespan="off") as url:
        yield url
        # Let every call end in order before the next module: a session still shutting down in
        # the background would outlive this module's event-loop work.
        if runtime.calls is not None:
            await runtime.calls.close()


def _normalize(text: str) -> str:
    return re.sub(r"[^\w\s']", " ", text.lower()).strip()


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(_normalize(reference), _normalize(hypothesis)))


@pytest.fixture
def resume_file(tmp_path: Path) -> Path:
    path = tmp_path / "jane.txt"
    path.write_text(EN_RESUME)
    return path


async def test_full_interview_from_recorded_answers(server: str, resume_file: Path) -> None:
    a, b = shared_fixture(ANSWER_A), shared_fixture(ANSWER_B)
    result = await harness.run(
        harness.HarnessOptions(base_url=server, resume=resume_file, answers=(a, b), follow_ups=False)
    )
    assert result.ended, result.events
    candidate = [t for t in result.transcript if t["speaker"] == "candidate"]
    interviewer = [t for t in result.transcript if t["speaker"] == "interviewer"]
    assert len(candidate) >= 2
    # Whisper base measured WER 0.036 and 0.0 on these clips alone; answers cut by VAD into one
    # turn each may lose a word at an edge: 0.25 still fails on a wrong or missing answer.
    for turn, path in zip(candidate, (a, b), strict=False):
        reference = path.with_suffix(".txt").read_text()
        assert wer(reference, turn["text"]) < 0.25, (reference, turn["text"])
    assert interviewer[0]["text"]
    assert all(t.first_audio_s is not None for t in result.turns)
    # every turn was stored with its latencies the moment it ended
    replies = [t for t in interviewer if "next_question_s" in t["latencies"]]
    assert replies, interviewer
    # Both sides were recorded, and each turn points at its own span of the recording.
    async with httpx.AsyncClient(base_url=server, timeout=60) as anonymous:
        assert (await anonymous.get(candidate[0]["audio_url"])).status_code == 401
    auth = {"Authorization": f"Bearer {result.join_token}"}
    async with httpx.AsyncClient(base_url=server, timeout=60, headers=auth) as http:
        for turn in candidate[:2] + interviewer[:1]:
            assert turn["audio_url"], turn
            r = await http.get(turn["audio_url"])
            assert r.status_code == 200
            assert r.headers["content-type"] == "audio/wav"
            samples, rate = sf.read(io.BytesIO(r.content), dtype="int16")
            span = turn["ended_s"] - turn["started_s"]
            assert abs(len(samples) / rate - span) < 0.1, (len(samples) / rate, span)
            assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 100, turn  # speech, not silence
        missing = await http.get(f"/api/interviews/{result.interview_id}/turns/999/audio")
        assert missing.status_code == 404


KO_ANSWER = "audio/ko_picovoice_leopard_test_ko.wav"


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate without spaces and punctuation: Korean spacing varies between writers."""
    return float(jiwer.cer(re.sub(r"\W", "", reference), re.sub(r"\W", "", hypothesis)))


async def test_korean_interview_end_to_end(server: str, tmp_path: Path) -> None:
    answer = shared_fixture(KO_ANSWER)
    resume = tmp_path / "kim.txt"
    resume.write_text(KO_RESUME, encoding="utf-8")
    result = await harness.run(
        harness.HarnessOptions(
            base_url=server, resume=resume, answers=(answer, answer), language="ko", follow_ups=False
        )
    )
    assert result.ended, result.events
    candidate = [t for t in result.transcript if t["speaker"] == "candidate"]
    interviewer = [t for t in result.transcript if t["speaker"] == "interviewer"]
    reference = answer.with_suffix(".txt").read_text(encoding="utf-8")
    assert len(candidate) >= 2
    # Whisper base measured CER 0.21 on this clip alone (spacing and one verb ending); 0.4 still
    # fails on English output, a wrong language or a missing half of the answer.
    for turn in candidate[:2]:
        assert cer(reference, turn["text"]) < 0.4, (reference, turn["text"])
    # The interviewer speaks Korean: Hangul in every line, and its recorded audio is speech.
    assert all(re.search(r"[가-힣]", t["text"]) for t in interviewer), interviewer
    auth = {"Authorization": f"Bearer {result.join_token}"}
    async with httpx.AsyncClient(base_url=server, timeout=60, headers=auth) as http:
        r = await http.get(interviewer[0]["audio_url"])
    samples, _ = sf.read(io.BytesIO(r.content), dtype="int16")
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 100


class _Recorder:
    """Client side: keeps the agent's audio (48 kHz) with arrival times."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, np.ndarray]] = []
        """(arrival time, 16 kHz mono samples): decoded Opus is 48 kHz packed stereo."""
        self._resampler = StreamResampler(16_000)
        self.voiced = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def consume(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            pcm = self._resampler.resample(frame)
            self.frames.append((loop.time(), pcm))
            if np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 300:
                self.voiced.set()

    def voiced_times(self) -> list[float]:
        return [t for t, pcm in self.frames if np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 300]


async def _create(server: str, resume: Path, *, follow_ups: bool = True) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server, timeout=120) as http:
        data = await asyncio.to_thread(resume.read_bytes)
        r = await http.post("/api/resumes", files={"file": (resume.name, data)})
        r.raise_for_status()
        request = {"resume_id": r.json()["id"], "question_count": 2, "follow_ups": follow_ups}
        r = await http.post("/api/interviews", json=request)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


async def _join(
    server: str, interview: dict[str, Any], mic: MediaStreamTrack, recorder: _Recorder
) -> tuple[RTCPeerConnection, asyncio.Queue[dict[str, Any]]]:
    enable_loopback_candidates()
    pc = RTCPeerConnection(rtc_configuration([]))
    pc.addTrack(mic)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    channel = pc.createDataChannel("events")
    channel.on("message", lambda m: events.put_nowait(json.loads(m)))

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        recorder.task = asyncio.ensure_future(recorder.consume(track))

    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        r = await http.post(
            f"/api/interviews/{interview['id']}/offer",
            json={"sdp": pc.localDescription.sdp, "type": "offer", "token": interview["join_token"]},
        )
    assert r.status_code == 200, r.text
    await pc.setRemoteDescription(RTCSessionDescription(sdp=r.json()["sdp"], type="answer"))
    return pc, events


async def _interviewer_turn(events: asyncio.Queue[dict[str, Any]], limit_s: float = 90) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(events.get(), limit_s)
        if event.get("type") == "turn" and event.get("speaker") == "interviewer":
            return event


async def test_agent_audio_is_the_question(server: str, resume_file: Path, runtime: Runtime) -> None:
    interview = await _create(server, resume_file)
    first_question = interview["questions"][0]["text"]
    recorder = _Recorder()
    pc, events = await _join(server, interview, FileAudioTrack(), recorder)
    asked = await _interviewer_turn(events)
    await pc.close()
    # The opening line is the greeting with the first question in it.
    assert asked["kind"] == "greeting"
    assert first_question.split("?")[0][:20].lower() in asked["text"].lower()
    # What reached the client is speech, and it says that line.
    audio = np.concatenate([pcm for _, pcm in recorder.frames]).astype(np.int16)
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 100
    heard = await runtime.models.stt.transcribe(audio, language="en")
    assert wer(asked["text"], heard.text) < 0.5, (asked["text"], heard.text)


async def test_rejoin_after_the_second_question_resumes_at_the_second_question(
    server: str, resume_file: Path
) -> None:
    interview = await _create(server, resume_file, follow_ups=False)
    mic = FileAudioTrack()
    pc, events = await _join(server, interview, mic, _Recorder())
    greeting = await _interviewer_turn(events)
    assert greeting["question_index"] == 0
    await asyncio.sleep(0.3)
    mic.play(load_audio(shared_fixture(ANSWER_A), 48_000))
    await mic.wait_done()
    second = await _interviewer_turn(events)
    while second["interrupted"] or second["kind"] != "next":
        second = await _interviewer_turn(events)
    await pc.close()
    # The interview moved on first: otherwise a rejoin at "the same question" proves nothing.
    assert second["question_index"] == 1, second

    pc2, events2 = await _join(server, interview, FileAudioTrack(), _Recorder())
    again = await _interviewer_turn(events2)
    await pc2.close()
    assert again["kind"] == "resume"
    assert again["question_index"] == 1
    assert interview["questions"][1]["text"][:20] in again["text"]


async def test_barge_in_stops_agent_audio(server: str, resume_file: Path) -> None:
    speech = shared_fixture(ANSWER_A)
    interview = await _create(server, resume_file)
    recorder = _Recorder()
    mic = FileAudioTrack()
    pc, events = await _join(server, interview, mic, recorder)
    # Wait until the agent is speaking, then talk over it.
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(recorder.voiced.wait(), 90)
    await asyncio.sleep(0.5)
    mic.play(load_audio(speech, 48_000))
    spoke_at = loop.time()
    # The control: the interviewer was speaking when the candidate began (the greeting lasts ~8 s).
    assert [t for t in recorder.voiced_times() if spoke_at - 0.3 <= t <= spoke_at], "agent not speaking"
    await mic.wait_done()
    await asyncio.sleep(0.5)
    await pc.close()
    voiced_after = [t for t in recorder.voiced_times() if t > spoke_at]
    # The agent stops within a second of the candidate starting (VAD + minimum interruption
    # 0.5 s + transport), and stays quiet while the candidate goes on (an acknowledgement or a
    # reply may start only after the candidate stopped).
    talking_over = [t for t in voiced_after if t < spoke_at + 8.0 and t > spoke_at + 1.5]
    assert len(talking_over) < 20, f"{len(talking_over)} agent frames while the candidate spoke"
    _ = events


async def test_offer_errors(server: str, resume_file: Path) -> None:
    interview = await _create(server, resume_file)
    url = f"/api/interviews/{interview['id']}/offer"
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        bad = await http.post(
            url, json={"sdp": "v=0\r\nnonsense", "type": "offer", "token": interview["join_token"]}
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "InvalidSessionDescriptionError"
        wrong = await http.post(url, json={"sdp": "v=0\r\n", "type": "offer", "token": "nope"})
        assert wrong.status_code == 401
        missing = await http.post(url, json={"sdp": "v=0\r\n", "type": "offer"})
        assert missing.status_code == 401
        other = await http.post(
            f"/api/interviews/{uuid.uuid4()}/offer",
            json={"sdp": "v=0\r\n", "type": "offer", "token": interview["join_token"]},
        )
        assert other.status_code == 401
        junk = await http.post(url, content=b"\x00\x01", headers={"content-type": "application/json"})
        assert junk.status_code == 422


async def test_silent_caller_is_asked_and_nothing_breaks(server: str, resume_file: Path) -> None:
    interview = await _create(server, resume_file)
    recorder = _Recorder()
    pc, events = await _join(server, interview, FileAudioTrack(), recorder)
    asked = await _interviewer_turn(events)
    assert asked["question_index"] == 0
    await asyncio.sleep(9.0)  # a caller who says nothing, past the gentle prompt (6 s)
    assert pc.connectionState == "connected"
    await pc.close()
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        token = {"token": interview["join_token"]}
        turns = (await http.get(f"/api/interviews/{interview['id']}/turns", params=token)).json()
        state = (await http.get(f"/api/interviews/{interview['id']}", params=token)).json()
    assert [t for t in turns if t["speaker"] == "candidate"] == []
    # Silence is not an answer: a prompt, but no next question, and the plan stays at the first.
    later = [t["kind"] for t in turns if t["speaker"] == "interviewer"][1:]
    assert later, "no prompt after 9 s of silence"
    assert set(later) == {"prompt"}, later
    assert state["current_question"] == 0


async def test_calls_beyond_capacity_get_503_and_a_rejoin_keeps_its_slot(
    server: str, resume_file: Path, runtime: Runtime
) -> None:
    # A manager of its own with one slot, over the same database and models.
    one_slot = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"max_rooms": 1}))
    manager = CallManager(one_slot, runtime.models)
    first, second = await _create(server, resume_file), await _create(server, resume_file)
    clients: list[RTCPeerConnection] = []

    async def offer() -> str:
        pc = RTCPeerConnection(rtc_configuration([]))
        clients.append(pc)
        pc.addTrack(FileAudioTrack())
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)

    try:
        assert "m=audio" in await manager.join(uuid.UUID(first["id"]), await offer(), "offer")
        with pytest.raises(CapacityError, match="maximum of 1 live calls"):
            await manager.join(uuid.UUID(second["id"]), await offer(), "offer")
        # Over HTTP, as a browser sees it: 503 with Retry-After, so a proxy or the page tries again.
        app = create_app(one_slot.settings, runtime=dataclasses.replace(one_slot, calls=manager))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            full = await http.post(
                f"/api/interviews/{second['id']}/offer",
                json={"sdp": await offer(), "type": "offer", "token": second["join_token"]},
            )
        assert full.status_code == 503, full.text
        assert full.headers["retry-after"].isdigit()
        assert "m=audio" in await manager.join(uuid.UUID(first["id"]), await offer(), "offer")
        assert list(manager.rooms) == [uuid.UUID(first["id"])]
    finally:
        await manager.close()
        for pc in clients:
            await pc.close()
    assert http_errors.status_for(CapacityError("full")) == 503
