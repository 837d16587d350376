"""A call's writes survive a Postgres restart: the call's own persistence (``CallManager``'s turn
writes and ``PgStateStore``) against a real embedded Postgres that the test stops and starts again.

This module runs its own Postgres and Redis (``bench.fault_servers``), not the session's: stopping
the shared one would fail whatever else runs at the time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection
from redis.asyncio import Redis
from sqlalchemy import select

from agent.models.registry import ModelRegistry
from agent.session.state import InterviewState
from agent.session.turns import TurnRecord
from bench.fault_servers import RestartablePostgres, RestartableRedis
from db import events, queries
from db.engine import unit_of_work
from db.models import Interview, Resume, Turn
from media.outbound import PacedAudioTrack
from signaling import room_writes
from signaling.app import create_app
from signaling.calls import CallManager, PgStateStore, Room
from signaling.journal import Entry, Journal, read_outstanding
from signaling.outbox import RoomOutbox
from signaling.runtime import Runtime
from signaling.settings import load_settings

pytestmark = [pytest.mark.integration]

OUTAGE_S = 10.0


@dataclass
class Servers:
    data_dir: Path
    pg: RestartablePostgres
    redis: RestartableRedis


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    data_dir = Path(tempfile.mkdtemp(prefix="interviewer-outbox-"))
    pg, redis = RestartablePostgres(data_dir), RestartableRedis(data_dir)
    pg.start()
    redis.start()
    yield Servers(data_dir, pg, redis)
    redis.close()
    pg.close()
    shutil.rmtree(data_dir, ignore_errors=True)


async def _runtime(servers: Servers, models: ModelRegistry, **overrides: Any) -> Runtime:
    settings = load_settings(
        data_dir=servers.data_dir,
        database_url=servers.pg.url,
        redis_url=servers.redis.url,
        enable_calls=False,
        evaluation=False,
        preload_models=False,
        record_calls=False,
        **overrides,
    )
    return await Runtime.open(settings, models=models)


async def _interview(runtime: Runtime) -> uuid.UUID:
    async with unit_of_work(runtime.sessions) as session:
        resume = Resume(
            filename="r.txt",
            content_type="text/plain",
            sha256="0" * 64,
            size_bytes=1,
            pages=1,
            language="en",
            text="x",
            parsed={},
            target_role_source="none",
        )
        session.add(resume)
        await session.flush()
        interview = Interview(resume_id=resume.id, language="en", question_count=2, state="live")
        session.add(interview)
        await session.flush()
        return interview.id


def _turn(seq: int, text: str) -> TurnRecord:
    speaker = "interviewer" if seq % 2 == 0 else "candidate"
    kind = "next" if speaker == "interviewer" else "answer"
    return TurnRecord(seq, speaker, text, kind, 0, float(seq), float(seq) + 0.5)  # type: ignore[arg-type]


@pytest.fixture
async def call(servers: Servers, models: ModelRegistry) -> AsyncIterator[tuple[Runtime, CallManager, Room]]:
    runtime = await _runtime(servers, models, write_retry_budget_s=60.0)
    manager = CallManager(runtime, models)
    room = Room(await _interview(runtime), RTCPeerConnection(), PacedAudioTrack(), [])
    yield runtime, manager, room
    await room.pc.close()
    await runtime.close()


async def _listen(redis: Redis, interview_id: uuid.UUID) -> tuple[Any, list[dict[str, Any]]]:
    pubsub = redis.pubsub()
    await pubsub.subscribe(events.interview_channel(interview_id))
    await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    return pubsub, []


async def _drain_events(pubsub: Any, into: list[dict[str, Any]]) -> list[dict[str, Any]]:
    while (message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)) is not None:
        into.append(json.loads(message["data"]))
    return into


async def _stored_turns(runtime: Runtime, interview_id: uuid.UUID) -> list[Turn]:
    async with unit_of_work(runtime.sessions) as session:
        rows = await session.scalars(select(Turn).where(Turn.interview_id == interview_id).order_by(Turn.seq))
        return list(rows.all())


async def test_turns_and_state_written_during_an_outage_land_once_in_order(
    servers: Servers, call: tuple[Runtime, CallManager, Room]
) -> None:
    runtime, manager, room = call
    outbox = room.outbox = manager._open_outbox(room)
    store = PgStateStore(runtime, room.interview_id, outbox=outbox)
    pubsub, seen = await _listen(runtime.redis, room.interview_id)

    manager._persist_turn(room, outbox, _turn(0, "before the outage"))
    await outbox.flush()
    await asyncio.to_thread(servers.pg.stop)
    try:
        for seq, text in ((1, "first answer, database down"), (2, "second question"), (3, "second answer")):
            manager._persist_turn(room, outbox, _turn(seq, text))
        await store.save(InterviewState(1, False, "live"))
        await store.save(InterviewState(1, True, "ended"))  # the newest of two pending saves
        assert outbox.pending >= 4  # queued, not dropped, and the session was not kept waiting
        await asyncio.sleep(OUTAGE_S)
        assert outbox.stored == 1  # nothing reached the stopped database
    finally:
        await asyncio.to_thread(servers.pg.resume)
    await outbox.flush()

    rows = await _stored_turns(runtime, room.interview_id)
    assert [(r.seq, r.text) for r in rows] == [
        (0, "before the outage"),
        (1, "first answer, database down"),
        (2, "second question"),
        (3, "second answer"),
    ]
    async with unit_of_work(runtime.sessions) as session:
        interview = await session.get(Interview, room.interview_id)
    assert interview is not None
    assert (interview.state, interview.current_question, interview.followup_used) == ("ended", 1, True)
    assert interview.ended_at is not None
    assert outbox.failed == 0

    turn_events = [e for e in await _drain_events(pubsub, seen) if e["type"] == "turn"]
    assert [e["seq"] for e in turn_events] == [0, 1, 2, 3]  # announced once each, after storing
    assert [e["turn_id"] for e in turn_events] == [str(r.id) for r in rows]
    await pubsub.aclose()


async def test_a_retried_insert_whose_commit_landed_adds_no_row(
    call: tuple[Runtime, CallManager, Room],
) -> None:
    runtime, _, room = call
    turn_id = uuid.uuid4()
    for _ in range(2):  # the second try: the commit of the first went through, its answer was lost
        async with unit_of_work(runtime.sessions) as session:
            row = await queries.add_turn(
                session,
                turn_id=turn_id,
                interview_id=room.interview_id,
                question_id=None,
                speaker="candidate",
                text_="said once",
                started_s=1.0,
                ended_s=2.0,
                latencies={},
                audio_path=None,
            )
            assert (row.id, row.seq) == (turn_id, 0)
    rows = await _stored_turns(runtime, room.interview_id)
    assert [(r.id, r.text) for r in rows] == [(turn_id, "said once")]


async def test_a_write_past_the_retry_budget_sends_an_error_event(
    servers: Servers, models: ModelRegistry
) -> None:
    runtime = await _runtime(servers, models, write_retry_budget_s=2.0)
    room = Room(await _interview(runtime), RTCPeerConnection(), PacedAudioTrack(), [])
    manager = CallManager(runtime, models)
    outbox: RoomOutbox = manager._open_outbox(room)
    pubsub, seen = await _listen(runtime.redis, room.interview_id)
    try:
        await asyncio.to_thread(servers.pg.stop)
        try:
            manager._persist_turn(room, outbox, _turn(0, "lost to a long outage"))
            store = PgStateStore(runtime, room.interview_id, outbox=outbox)
            await store.save(InterviewState(1, False, "live"))
            await outbox.flush()  # both given up once the outage outlasts the 2 s budget
        finally:
            await asyncio.to_thread(servers.pg.resume)
        assert (outbox.stored, outbox.failed) == (0, 2)
        errors = [e for e in await _drain_events(pubsub, seen) if e["type"] == "error"]
        assert [(e["scope"], e["kind"]) for e in errors] == [("storage", "turn"), ("storage", "state")]
        assert not [e for e in seen if e["type"] == "turn"]
        assert await _stored_turns(runtime, room.interview_id) == []
        # Given up by the call, not lost: both stay in the journal for the next start to store.
        assert manager._journal is not None
        kept = read_outstanding(manager._journal.path)
        assert [(e.kind, e.data.get("text")) for e in kept] == [
            ("turn", "lost to a long outage"),
            ("state", None),
        ]
    finally:
        await pubsub.aclose()
        await room.pc.close()
        await runtime.close()


async def test_a_request_while_postgres_is_down_is_a_retryable_503(
    servers: Servers, call: tuple[Runtime, CallManager, Room]
) -> None:
    runtime, _, room = call
    transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        token = runtime.tokens.issue(room.interview_id)
        await runtime.engine.dispose()  # no pooled connection left: the next request must connect
        await asyncio.to_thread(servers.pg.stop)
        try:
            down = await http.get(
                f"/api/interviews/{room.interview_id}/turns", headers={"Authorization": f"Bearer {token}"}
            )
        finally:
            await asyncio.to_thread(servers.pg.resume)
        up = await http.get(
            f"/api/interviews/{room.interview_id}/turns", headers={"Authorization": f"Bearer {token}"}
        )
    assert down.status_code == 503, down.text
    assert down.json()["error"]["retryable"] is True
    assert down.headers["retry-after"] == "5"
    assert up.status_code == 200


async def test_a_dead_process_journal_is_stored_once_and_cannot_undo_later_progress(
    servers: Servers, call: tuple[Runtime, CallManager, Room]
) -> None:
    runtime, _, room = call
    stores = room_writes.Stores(runtime.sessions, runtime.cache, runtime.questions_ns)
    directory = servers.data_dir / "replayed"
    j = Journal.create(directory)
    turn_ids = [uuid.uuid4(), uuid.uuid4()]
    for n, turn_id in enumerate(turn_ids):
        j.append(
            "turn",
            room_writes.turn_entry(
                turn_id=turn_id,
                interview_id=room.interview_id,
                question_id=None,
                speaker="candidate",
                text=f"journaled answer {n}",
                started_s=float(n),
                ended_s=n + 0.5,
                latencies={"kind": "answer"},
                audio_path=None,
            ),
        )
    j.append("state", room_writes.state_entry(room.interview_id, InterviewState(1, False, "live")))
    j.close()  # outstanding writes left behind, as by a process that died
    # The first of the turns was stored before the death (its done mark lost); the interview has
    # since moved on to question 2 elsewhere.
    await room_writes.store_turn(stores, read_outstanding(j.path)[0].data)
    await PgStateStore(runtime, room.interview_id).write(InterviewState(2, False, "live"))

    async def apply(entry: Entry) -> None:
        await room_writes.apply(stores, entry)

    done = await room_writes.replay(directory, apply)
    assert (done.journals, done.stored, done.skipped, done.kept) == (1, 3, 0, 0)
    assert list(directory.iterdir()) == []
    rows = await _stored_turns(runtime, room.interview_id)
    assert [(r.id, r.seq, r.text) for r in rows] == [
        (turn_ids[0], 0, "journaled answer 0"),
        (turn_ids[1], 1, "journaled answer 1"),
    ]
    async with unit_of_work(runtime.sessions) as session:
        interview = await session.get(Interview, room.interview_id)
    assert interview is not None
    assert (interview.state, interview.current_question) == ("live", 2)  # the stale save skipped
