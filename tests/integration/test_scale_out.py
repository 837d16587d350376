"""Two real ``serve`` processes behind the real nginx proxy, one Postgres, one Redis.

One module-scoped cluster, each process allowed one live call, so that where a call lands is
forced: offers spread over both processes (the full one answers 503 and nginx tries the next), a
third call gets 503 with Retry-After, two joins racing on the two processes end with one owner, a
rejoin through the other process takes the room over at the same question, and a SIGKILLed owner's
call goes on in the survivor without losing a stored answer."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.cluster import Cluster, ClusterOptions, ServeProcess, nginx_binary
from bench.fault_candidate import Candidate
from bench.scale_out import LISTENER, Listener
from tests.fixtures_paths import PROJECT_FIXTURES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (run.sh installs it)"),
]

RESUME = PROJECT_FIXTURES / "resumes/en_resumematcher_harvey_dent_mle.pdf"
ANSWER = PROJECT_FIXTURES / "audio/jfk.flac"


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster(
        ClusterOptions(
            processes=2,
            max_rooms=1,
            env={
                "INTERVIEWER_ROOM_LEASE_TTL_S": "4",
                "INTERVIEWER_ROOM_LEASE_RENEW_S": "1",
                "INTERVIEWER_EVALUATION": "false",
            },
            interviewers={LISTENER[0]: LISTENER[1]},
        )
    )
    try:
        await c.start()
        yield c
    finally:
        await c.close()


async def _interview(cluster: Cluster, questions: int = 3) -> Candidate:
    async with httpx.AsyncClient(base_url=cluster.url, timeout=180) as http:
        r = await http.post("/api/resumes", files={"file": (RESUME.name, RESUME.read_bytes())})
        assert r.status_code == 201, r.text
        r = await http.post(
            "/api/interviews",
            json={"resume_id": r.json()["id"], "question_count": questions, "follow_ups": False},
        )
        assert r.status_code == 201, r.text
    created = r.json()
    return Candidate(cluster.url, created["id"], created["join_token"], step_timeout_s=120)


async def _active_calls(process: ServeProcess) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{process.url}/metrics")).text
    match = re.search(r"^interviewer_active_calls (\S+)$", text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


async def _settle(cluster: Cluster, expected: list[int], timeout_s: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        now = [await _active_calls(p) for p in cluster.processes if p.alive()]
        if now == expected or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.3)


def _process_of(cluster: Cluster, served_by: str) -> ServeProcess:
    # The process id names the pid (host-pid-suffix).
    pid = int(served_by.split("-")[-2])
    return next(p for p in cluster.processes if p.proc.pid == pid)


async def test_offers_spread_and_a_full_cluster_answers_503_with_retry_after(cluster: Cluster) -> None:
    first, second, third = [await _interview(cluster) for _ in range(3)]
    try:
        await first.join()
        await second.join()
        # Each process takes one call: the second offer reached the full one (503) or the free one
        # first, and either way runs on the other process.
        assert first.served_by[0] != second.served_by[0]
        async with httpx.AsyncClient(timeout=10) as http:
            health = [(await http.get(f"{p.url}/api/health")).json() for p in cluster.processes]
        assert sorted(h["process"] for h in health) == sorted([first.served_by[0], second.served_by[0]])
        assert [(h["calls"], h["max_calls"]) for h in health] == [(1, 1), (1, 1)]
        with pytest.raises(RuntimeError, match="503"):
            await third.join()
        assert third.unavailable
        assert "Retry-After" in third.unavailable[0]
        assert "None" not in third.unavailable[0]
    finally:
        for c in (first, second, third):
            await c.hangup()
    assert await _settle(cluster, [0, 0]) == [0, 0], cluster.logs()


async def test_two_joins_racing_on_two_processes_end_with_one_owner(cluster: Cluster) -> None:
    a = await _interview(cluster)
    b = Candidate(cluster.url, a.interview_id, a.token, step_timeout_s=60)
    p0, p1 = cluster.processes
    outcomes = await asyncio.gather(a.join(p0.url), b.join(p1.url), return_exceptions=True)
    try:
        joined = [o for o in outcomes if not isinstance(o, BaseException)]
        assert joined, outcomes
        deadline = time.monotonic() + 30
        while sum([await _active_calls(p) for p in cluster.processes]) != 1:
            assert time.monotonic() < deadline, cluster.logs()
            await asyncio.sleep(0.3)
        await asyncio.sleep(2)  # and it stays one: no second room comes up late
        assert sorted([await _active_calls(p) for p in cluster.processes]) == [0, 1]
    finally:
        await a.hangup()
        await b.hangup()
    assert await _settle(cluster, [0, 0]) == [0, 0], cluster.logs()


async def test_a_rejoin_through_the_other_process_takes_over_at_the_same_question_then_survives_a_kill(
    cluster: Cluster,
) -> None:
    candidate = await _interview(cluster)
    try:
        await candidate.join()
        owner = _process_of(cluster, candidate.served_by[-1])
        other = next(p for p in cluster.processes if p is not owner)
        assert await candidate.next_question() is not None  # the greeting and the first question
        await candidate.answer(ANSWER)
        asked = await candidate.next_question()
        assert asked is not None
        index = asked["question_index"]
        assert index >= 1

        # The candidate's page reloads and its offer reaches the other process.
        await candidate.hangup()
        await candidate.join(other.url)
        assert _process_of(cluster, candidate.served_by[-1]) is other
        again = await candidate.next_question()
        assert again is not None
        assert again["question_index"] == index  # resumed at the same question
        expected = [0, 1] if cluster.processes[0] is owner else [1, 0]
        assert await _settle(cluster, expected) == expected, cluster.logs()  # the old owner stopped

        # The new owner dies mid-call: the candidate rejoins through the proxy and lands on the
        # survivor, still at that question, with the answer stored before the kill.
        cluster.kill(other)
        await candidate.hangup()
        await candidate.join()
        restarted = asyncio.create_task(cluster.restart(other))  # back while the call goes on
        assert _process_of(cluster, candidate.served_by[-1]) is owner
        after_kill = await candidate.next_question()
        assert after_kill is not None
        assert after_kill["question_index"] == index
    finally:
        await candidate.hangup()
    await restarted

    async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:
        r = await http.get(
            f"/api/interviews/{candidate.interview_id}/turns",
            headers={"Authorization": f"Bearer {candidate.token}"},
        )
    assert r.status_code == 200, r.text
    turns = r.json()
    answers = [t for t in turns if t["speaker"] == "candidate"]
    assert any("country" in t["text"].lower() for t in answers), turns  # JFK's answer was kept
    seqs = [t["seq"] for t in turns]
    assert len(seqs) == len(set(seqs))
    assert not [e for e in candidate.server_errors if "offer" in e], candidate.server_errors


async def test_a_listener_on_the_other_process_hears_both_sides(cluster: Cluster) -> None:
    candidate = await _interview(cluster)
    listener: Listener | None = None
    try:
        await candidate.join()
        owner = _process_of(cluster, candidate.served_by[-1])
        other = next(p for p in cluster.processes if p is not owner)
        # The listen request reaches a process that does not run the call: it is handed to the owner.
        listener = Listener(other.url, candidate.interview_id)
        await listener.start()
        assert await candidate.next_question() is not None  # greeting and first question spoken
        answer_from = time.monotonic()
        await candidate.answer(ANSWER)
        answer_to = time.monotonic()
        assert listener.first_frame_at is not None
        interviewer_side = listener.onset_after(0, answer_from)
        candidate_side = listener.onset_after(answer_from + 0.3, answer_to)
        assert interviewer_side is not None, "the interviewer's lines were not heard"
        assert candidate_side is not None, "the candidate's answer was not heard"
    finally:
        if listener is not None:
            await listener.stop()
        await candidate.hangup()
    assert "started listening" in owner.log_text()  # logged where the call runs
