"""Who may create interviews, what a join token may read, sign-in limits, and bad input that must
stay a 4xx (real app, Postgres, Redis and models)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from db import queries
from db.engine import unit_of_work
from signaling.app import create_app
from signaling.auth import InterviewerStore
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.conftest import REVIEWER
from tests.interview_rows import make_interview

pytestmark = pytest.mark.integration


def _client(settings: Settings, runtime: Runtime, address: str = "127.0.0.1") -> httpx.AsyncClient:
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120)


EMPTY = {"file": ("empty.txt", b"")}
"""An upload the parser refuses (422) only once admitted: the policy is seen without storing a
resume."""


@pytest.fixture
async def interview(runtime: Runtime) -> dict[str, object]:
    interview_id, token = await make_interview(runtime)
    return {"id": str(interview_id), "join_token": token}


async def test_by_default_only_signed_in_interviewers_create_interviews(
    settings: Settings, runtime: Runtime
) -> None:
    strict = settings.model_copy(update={"intake": "interviewers"})
    InterviewerStore(settings.data_dir / "interviewers.json").create(*REVIEWER, replace=True)
    async with _client(strict, runtime) as c:
        resume = await c.post("/api/resumes", files=EMPTY)
        assert resume.status_code == 401, resume.text
        assert "sign in" in resume.json()["error"]["message"]
        made = await c.post("/api/interviews", json={"resume_id": str(uuid.uuid4())})
        assert made.status_code == 401
        # The same client, signed in, is let through to the work itself.
        r = await c.post("/api/auth/login", json={"name": REVIEWER[0], "password": REVIEWER[1]})
        assert r.status_code == 200
        assert (await c.post("/api/resumes", files=EMPTY)).status_code == 422
        assert (await c.post("/api/interviews", json={"resume_id": str(uuid.uuid4())})).status_code == 404


async def test_open_intake_has_a_quota_per_address_and_a_global_one(
    settings: Settings, runtime: Runtime
) -> None:
    tag = uuid.uuid4().int % 250  # fresh counters: addresses nobody else in the suite uses
    open_ = settings.model_copy(
        update={"intake": "open", "intake_per_address_per_hour": 2, "intake_global_per_hour": 0}
    )
    async with _client(open_, runtime, f"10.{tag}.1.1") as first:
        codes = [(await first.post("/api/resumes", files=EMPTY)).status_code for _ in range(3)]
        assert codes == [422, 422, 429]
        limited = await first.post("/api/resumes", files=EMPTY)
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 3600
        # Interviews have their own count.
        made = await first.post("/api/interviews", json={"resume_id": str(uuid.uuid4())})
        assert made.status_code == 404
    # Another address still gets in: one stranger does not lock out everyone.
    async with _client(open_, runtime, f"10.{tag}.1.2") as second:
        assert (await second.post("/api/resumes", files=EMPTY)).status_code == 422
    # The global quota counts every address together.
    await runtime.redis.delete(*[k async for k in runtime.redis.scan_iter("intake:resume:all:*")] or ["-"])
    capped = settings.model_copy(
        update={"intake": "open", "intake_per_address_per_hour": 0, "intake_global_per_hour": 2}
    )
    statuses = []
    for i in range(3):
        async with _client(capped, runtime, f"10.{tag}.2.{i}") as c:
            statuses.append((await c.post("/api/resumes", files=EMPTY)).status_code)
    assert statuses == [422, 422, 429]
    await runtime.redis.delete(*[k async for k in runtime.redis.scan_iter("intake:resume:all:*")] or ["-"])


async def test_join_token_reads_only_the_current_question(
    client: httpx.AsyncClient, reviewer: httpx.AsyncClient, runtime: Runtime, interview: dict[str, object]
) -> None:
    iid, token = interview["id"], interview["join_token"]
    full = await reviewer.get(f"/api/interviews/{iid}")
    assert full.status_code == 200
    questions = full.json()["questions"]
    assert len(questions) == 3
    as_candidate = await client.get(f"/api/interviews/{iid}", headers={"Authorization": f"Bearer {token}"})
    assert as_candidate.status_code == 200
    assert as_candidate.json()["questions"] == questions[:1]
    # The interview moves on: the candidate sees the question they are on, never the ones ahead.
    async with unit_of_work(runtime.sessions) as session:
        await queries.save_progress(
            session, uuid.UUID(str(iid)), state="live", current_question=1, followup_used=False
        )
    await runtime.cache.invalidate(runtime.questions_ns, str(iid))
    later = (await client.get(f"/api/interviews/{iid}?token={token}")).json()
    assert later["questions"] == questions[1:2]
    assert later["current_question"] == 1
    assert len((await reviewer.get(f"/api/interviews/{iid}")).json()["questions"]) == 3
    # Another interview's token opens nothing here.
    assert (await client.get(f"/api/interviews/{uuid.uuid4()}?token={token}")).status_code == 401


async def test_sign_in_attempts_are_limited_per_address(settings: Settings, runtime: Runtime) -> None:
    InterviewerStore(settings.data_dir / "interviewers.json").create(*REVIEWER, replace=True)
    limited = settings.model_copy(update={"signin_attempts_per_minute": 3})
    address = f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with _client(limited, runtime, address) as c:
        codes = [
            (
                await c.post("/api/auth/login", json={"name": REVIEWER[0], "password": "wrong password!"})
            ).status_code
            for _ in range(4)
        ]
        # Even the right password waits once the address used its attempts.
        right = await c.post("/api/auth/login", json={"name": REVIEWER[0], "password": REVIEWER[1]})
    assert codes == [401, 401, 401, 429]
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) <= 60
    async with _client(limited, runtime, address + "1") as other:
        ok = await other.post("/api/auth/login", json={"name": REVIEWER[0], "password": REVIEWER[1]})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "seq", ["2147483648", "9223372036854775808", "-1", "99999999999999999999", "1e3", "x"]
)
async def test_out_of_range_turn_numbers_are_4xx(
    client: httpx.AsyncClient, interview: dict[str, object], seq: str
) -> None:
    r = await client.get(
        f"/api/interviews/{interview['id']}/turns/{seq}/audio?token={interview['join_token']}"
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "ValidationError"


async def test_the_largest_turn_number_is_a_plain_404(
    client: httpx.AsyncClient, interview: dict[str, object]
) -> None:
    r = await client.get(
        f"/api/interviews/{interview['id']}/turns/2147483647/audio?token={interview['join_token']}"
    )
    assert r.status_code == 404


async def _turn_with_recording(runtime: Runtime, interview_id: uuid.UUID, relative: str) -> int:
    async with unit_of_work(runtime.sessions) as session:
        row = await queries.add_turn(
            session,
            interview_id=interview_id,
            question_id=None,
            speaker="candidate",
            text_="an answer",
            started_s=0.0,
            ended_s=0.5,
            latencies={},
            audio_path=f"{relative}#t=0.00,0.50",
        )
        return int(row.seq)


async def test_corrupt_or_unfinished_recordings_are_not_500(
    client: httpx.AsyncClient, runtime: Runtime, interview: dict[str, object]
) -> None:
    iid = uuid.UUID(str(interview["id"]))
    auth = {"Authorization": f"Bearer {interview['join_token']}"}
    folder = Path(runtime.settings.data_dir) / "recordings" / str(iid)
    folder.mkdir(parents=True, exist_ok=True)

    (folder / "garbage.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    seq = await _turn_with_recording(runtime, iid, f"recordings/{iid}/garbage.wav")
    r = await client.get(f"/api/interviews/{iid}/turns/{seq}/audio", headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["retryable"] is True

    (folder / "empty.wav").write_bytes(b"")
    seq = await _turn_with_recording(runtime, iid, f"recordings/{iid}/empty.wav")
    assert (await client.get(f"/api/interviews/{iid}/turns/{seq}/audio", headers=auth)).status_code == 409

    # Still being written: the header's sizes are not final until the file is closed.
    path = folder / "open.wav"
    writer = sf.SoundFile(path, "w", samplerate=16000, channels=1, subtype="PCM_16")
    try:
        writer.write(np.full(16000, 1000, dtype=np.int16))
        writer.flush()
        seq = await _turn_with_recording(runtime, iid, f"recordings/{iid}/open.wav")
        r = await client.get(f"/api/interviews/{iid}/turns/{seq}/audio", headers=auth)
        assert r.status_code in (200, 409), r.text
        if r.status_code == 200:
            assert r.headers["content-type"] == "audio/wav"
    finally:
        writer.close()
    r = await client.get(f"/api/interviews/{iid}/turns/{seq}/audio", headers=auth)
    assert r.status_code == 200  # once closed, the span reads
    # A reference that points outside the data dir is no recording at all.
    seq = await _turn_with_recording(runtime, iid, "../../etc/passwd.wav")
    assert (await client.get(f"/api/interviews/{iid}/turns/{seq}/audio", headers=auth)).status_code == 404


async def test_the_redis_password_never_reaches_the_start_up_lines(
    settings: Settings, runtime: Runtime, models: object, tmp_path: Path
) -> None:
    """A second Redis with a password; the runtime's start-up lines name it redacted."""
    from db.embedded import redis_server_binary

    sock = tmp_path / "r.sock"
    proc = await asyncio.create_subprocess_exec(
        redis_server_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--requirepass",
        "pw-0f-the-test",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        lines: list[str] = []
        own = settings.model_copy(
            update={
                "database_url": runtime.database_url,
                "redis_url": f"unix://:pw-0f-the-test@{sock}",
                "evaluation": False,
                "enable_calls": False,
                "preload_models": False,
            }
        )
        opened = await Runtime.open(own, models=models, progress=lines.append)  # type: ignore[arg-type]
        try:
            assert await opened.redis.ping()
        finally:
            await opened.close()
    finally:
        proc.terminate()
        await proc.wait()
    redis_lines = [line for line in lines if line.startswith("Redis ready")]
    assert redis_lines, lines
    assert all("pw-0f-the-test" not in line for line in lines)
    assert ":***@" in redis_lines[0]


async def test_a_real_out_of_range_value_from_postgres_maps_to_422(runtime: Runtime) -> None:
    """The path bound keeps it from happening; should another value reach the database out of
    range, the error asyncpg and SQLAlchemy really raise is a client error, not a 500."""
    from sqlalchemy import exc as sa_exc

    from signaling import http_errors

    with pytest.raises(sa_exc.DBAPIError) as caught:
        async with unit_of_work(runtime.sessions) as session:
            await queries.get_turn(session, uuid.uuid4(), 2**31)
    status, code, _ = http_errors.database_status(caught.value)
    assert (status, code) == (422, "InvalidValue"), repr(caught.value)
