"""The pages' server side over a real HTTP server: interviewer sign-in, candidate links, the review
API and the live WebSocket stream fed by Redis pub/sub (real Postgres, Redis, uvicorn)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from db import events, queries
from db.engine import unit_of_work
from signaling.app import create_app
from signaling.auth import InterviewerStore
from signaling.background import serve_in_background
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.resume_factory import EN_RESUME

pytestmark = [pytest.mark.integration]

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    InterviewerStore(settings.data_dir / "interviewers.json").create("lee", PASSWORD, replace=True)
    async with serve_in_background(create_app(settings, runtime=runtime), lifespan="off") as url:
        yield url


@pytest.fixture(scope="module")
async def interview(server: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server, timeout=120) as http:
        r = await http.post("/api/resumes", files={"file": ("jane.txt", EN_RESUME.encode())})
        r.raise_for_status()
        r = await http.post(
            "/api/interviews", json={"resume_id": r.json()["id"], "question_count": 2, "follow_ups": False}
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


async def _cookie(server: str) -> str:
    async with httpx.AsyncClient(base_url=server) as http:
        r = await http.post("/api/auth/login", json={"name": "lee", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return f"interviewer_session={r.cookies['interviewer_session']}"


def _ws(server: str, query: str = "") -> str:
    return server.replace("http://", "ws://") + "/api/live" + query


async def _next(ws: ClientConnection, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The next message whose type is not in ``skip`` (bounded: a missing push fails the test)."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if message["type"] not in skip:
            return message


async def _denied(url: str, **kwargs: Any) -> int:
    """Connects, expects the ``denied`` message, and returns the close code that follows."""
    async with connect(url, **kwargs) as ws:
        assert (await _next(ws))["type"] == "denied"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code is not None
        return ws.close_code


async def test_sign_in_and_session(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        me = (await http.get("/api/auth/me")).json()
        assert me == {"signed_in": False, "name": None, "accounts_exist": True}
        wrong = await http.post("/api/auth/login", json={"name": "lee", "password": "not it at all"})
        assert wrong.status_code == 401
        assert "interviewer_session" not in wrong.cookies
        unknown = await http.post("/api/auth/login", json={"name": "nobody", "password": PASSWORD})
        assert unknown.status_code == 401
        ok = await http.post("/api/auth/login", json={"name": "lee", "password": PASSWORD})
        assert ok.status_code == 200
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert (await http.get("/api/auth/me")).json()["name"] == "lee"
        await http.post("/api/auth/logout")
        assert (await http.get("/api/auth/me")).json()["signed_in"] is False


async def test_review_needs_an_interviewer(server: str, interview: dict[str, Any]) -> None:
    path = f"/api/review/interviews/{interview['id']}"
    async with httpx.AsyncClient(base_url=server) as http:
        denied = await http.get(path)
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "TokenError"
        forged = await http.get(path, headers={"Cookie": "interviewer_session=eyJuIjoibGVlIn0.AAAA"})
        assert forged.status_code == 401
        audio = await http.get(f"/api/interviews/{interview['id']}/turns/0/audio")
        assert audio.status_code == 401
        assert (await http.get(f"/api/interviews/{interview['id']}/report")).status_code == 401
    async with httpx.AsyncClient(base_url=server, headers={"Cookie": await _cookie(server)}) as http:
        r = await http.get(path)
        assert r.status_code == 200
        body = r.json()
        assert body["interview"]["question_count"] == 2
        assert body["interview"]["candidate_name"] == "Jane Park"
        assert [q["ord"] for q in body["questions"]] == [0, 1]
        missing = await http.get(f"/api/review/interviews/{uuid.uuid4()}")
        assert missing.status_code == 404


async def test_candidate_link_pages(server: str, runtime: Runtime, interview: dict[str, Any]) -> None:
    iid = interview["id"]
    async with httpx.AsyncClient(base_url=server) as http:
        ok = await http.get(f"/interview/{iid}", params={"token": interview["join_token"]})
        assert ok.status_code == 200
        assert 'id="step-mic"' in ok.text
        assert ok.headers["cache-control"] == "no-store"
        assert ok.headers["referrer-policy"] == "no-referrer"

        expired_token = runtime.tokens.issue(uuid.UUID(iid), ttl_s=-60)
        expired = await http.get(f"/interview/{iid}", params={"token": expired_token})
        assert expired.status_code == 401
        assert expired.headers["content-type"].startswith("text/html")
        assert "has expired" in expired.text
        assert "만료" in expired.text
        assert "Traceback" not in expired.text

        other = runtime.tokens.issue(uuid.uuid4())
        for token in (other, interview["join_token"][:-3] + "abc", None):
            params = {"token": token} if token else {}
            bad = await http.get(f"/interview/{iid}", params=params)
            assert bad.status_code == 401, token
            assert "not valid" in bad.text
            assert "유효하지 않은" in bad.text

        garbage = await http.get("/interview/not-a-uuid", params={"token": "x"})
        assert garbage.status_code == 404
        assert "유효하지 않은" in garbage.text

        for page in ("/", "/dashboard", f"/report/{iid}"):
            r = await http.get(page)
            assert r.status_code == 200, page
            assert r.headers["content-type"].startswith("text/html")


async def test_candidate_stream(server: str, runtime: Runtime, interview: dict[str, Any]) -> None:
    iid = interview["id"]
    assert await _denied(_ws(server, f"?interview={iid}&token=forged.token")) == 4401

    async with connect(_ws(server, f"?interview={iid}&token={interview['join_token']}")) as ws:
        snapshot = await _next(ws)
        assert snapshot["type"] == "interview"
        assert snapshot["interview"]["question_count"] == 2
        assert snapshot["interview"]["state"] == "waiting"
        assert "report_ready" not in snapshot["interview"]
        assert "scores" not in snapshot
        channel = events.interview_channel(iid)
        # Scores are for the interviewer only: the candidate's stream drops them.
        await events.publish(runtime.redis, channel, {"type": "score", "turn_id": "x", "overall": 50})
        turn = {"type": "turn", "turn_id": str(uuid.uuid4()), "speaker": "interviewer", "kind": "greeting"}
        await events.publish(runtime.redis, channel, {**turn, "text": "Hello.", "question_index": 0})
        line = await _next(ws)
        assert line["type"] == "turn"
        assert (line["text"], line["question_index"], line["speaker"]) == ("Hello.", 0, "interviewer")
        assert "latencies" not in line
        # Another interview's events never reach this stream.
        await events.publish(runtime.redis, events.interview_channel(uuid.uuid4()), {"type": "ended"})
        await events.publish(runtime.redis, channel, {"type": "ended", "reason": "completed"})
        assert await _next(ws) == {"type": "ended", "reason": "completed"}


async def test_interviewer_stream(server: str, runtime: Runtime, interview: dict[str, Any]) -> None:
    iid = interview["id"]
    assert await _denied(_ws(server)) == 4401
    cookie = await _cookie(server)
    cross_site = await _denied(
        _ws(server), additional_headers={"Cookie": cookie}, origin="http://evil.example"
    )
    assert cross_site == 4403

    origin = server  # our own page's origin
    async with connect(_ws(server), additional_headers={"Cookie": cookie}, origin=origin) as ws:  # type: ignore[arg-type]
        rooms = await _next(ws)
        assert rooms["type"] == "rooms"
        listed = {r["interview_id"]: r for r in rooms["rooms"]}
        assert listed[iid]["candidate_name"] == "Jane Park"
        assert (listed[iid]["question_index"], listed[iid]["question_count"]) == (0, 2)

        await events.publish(
            runtime.redis, events.ROOMS_CHANNEL, {"type": "room", "interview_id": iid, "state": "live"}
        )
        room = await _next(ws)
        assert room["type"] == "room"
        assert (room["room"]["interview_id"], room["room"]["state"]) == (iid, "live")

        await ws.send(json.dumps({"type": "watch", "interview_id": iid}))
        watched = await _next(ws)
        assert watched["type"] == "interview"
        assert watched["interview"]["interview_id"] == iid
        assert watched["scores"] == []
        assert isinstance(watched["turns"], list)

        # A turn as the call writes it: the row first, then the event.
        async with unit_of_work(runtime.sessions) as session:
            row = await queries.add_turn(
                session,
                interview_id=uuid.UUID(iid),
                question_id=None,
                speaker="candidate",
                text_="I built the payments service.",
                started_s=1.0,
                ended_s=3.0,
                latencies={"kind": "answer", "interrupted": False, "stt_final_s": 0.2},
                audio_path=None,
            )
            turn_id = str(row.id)
            seq = row.seq
        channel = events.interview_channel(iid)
        await events.publish(
            runtime.redis,
            channel,
            {
                "type": "turn",
                "turn_id": turn_id,
                "seq": seq,
                "speaker": "candidate",
                "kind": "answer",
                "text": "I built the payments service.",
                "question_index": 1,
                "interrupted": False,
                "latencies": {"stt_final_s": 0.2},
                "audio_url": None,
            },
        )
        progress = await _next(ws)
        assert progress == {"type": "progress", "interview_id": iid, "question_index": 1}
        line = await _next(ws)
        assert (line["type"], line["turn_id"], line["seq"]) == ("turn", turn_id, seq)
        assert line["latencies"] == {"stt_final_s": 0.2}

        score = {"type": "score", "interview_id": iid, "turn_id": turn_id, "status": "done", "overall": 71.5}
        await events.publish(runtime.redis, channel, score)
        assert await _next(ws) == score

        await events.publish(runtime.redis, channel, {"type": "report_ready", "interview_id": iid})
        assert (await _next(ws))["type"] == "room"
        assert (await _next(ws))["type"] == "report_ready"

        # After unwatching, the room's lines stop; its progress still updates the list.
        await ws.send(json.dumps({"type": "unwatch"}))
        again = {"type": "turn", "turn_id": turn_id, "speaker": "candidate", "question_index": 1}
        await events.publish(runtime.redis, channel, again)
        assert (await _next(ws))["type"] == "progress"
        await events.publish(runtime.redis, events.ROOMS_CHANNEL, {"type": "room", "interview_id": iid})
        assert (await _next(ws))["type"] == "room"


async def test_stream_survives_many_pages(server: str, interview: dict[str, Any]) -> None:
    """Ten pages at once, each with its own snapshot, over the process's one pub/sub connection."""
    url = _ws(server, f"?interview={interview['id']}&token={interview['join_token']}")
    sockets = [await connect(url) for _ in range(10)]
    try:
        for ws in sockets:
            assert (await _next(ws))["type"] == "interview"
    finally:
        for ws in sockets:
            await ws.close()
