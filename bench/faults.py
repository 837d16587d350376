"""Faults during simulated interviews: is every answer stored once, and every interview reported?

    .venv/bin/python -m bench.faults [--pg-down-s 20] [--redis-down-s 5] [--drop-s 10]

Runs as root in a private network namespace (it re-executes itself under ``unshare -n``): there it
starts Postgres and Redis of its own (``bench.fault_servers``), ``interview serve`` as a separate
process on a veth address, and two ``interview worker`` processes. The candidates run in a second
process inside a nested namespace, joined to the first by a veth pair: interviews 1, 2 and 4 go through
the recorded-audio harness (``signaling.harness.run``, as ``interview simulate`` does); interview 3
through :class:`~bench.fault_candidate.Candidate`, built from the harness's parts, because it must
hang up and rejoin.

Faults, each timed from what the database shows (a question stored: its answer starts playing;
an answer stored: its scoring starts):

  interview 1: Postgres restarted while answer 1 is spoken and while answer 2 is scored; Redis
               restarted while answer 3 is spoken
  interview 2: Redis restarted while answer 1 is scored; an evaluation worker's pool process
               SIGKILLed while answer 2 is spoken and the one scoring answer 3 while it scores
  interview 3: the candidate's network cut for ``--drop-s`` while answer 2 is spoken, then a rejoin
  interview 4: Postgres stopped while answer 1 is spoken, and ``serve`` SIGKILLed once that answer's
               turn is in its write journal only; Postgres started again and a new ``serve`` on the
               same data dir, which stores the journal; the candidate's call is gone with the old
               process (its harness run fails), and the sweeper ends and reports the interview

The network cut is tc's ``blackhole`` qdisc on both ends of the veth pair: this kernel has no
``netem`` (``tc qdisc add ... netem`` answers "Specified qdisc kind is unknown"), and blackhole
drops every packet, which is netem's ``loss 100%``.

Afterwards it waits for every report and counts from the database: turns stored (against the turns
the server queued for writing, its ``interviewer_outbox_writes_total{kind="turn",outcome="queued"}``,
the killed process's read from it just before the kill),
rows that repeat a turn, reports, interviews still ``live``; server errors are HTTP 5xx answers the
candidates got (503 "retry soon" counted apart), error events they were sent, turn writes the
server gave up, and tracebacks in the server's log.

Last line: faults turns_expected turns_stored duplicate_rows reports_written interviews_stuck_live
server_errors
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fault_candidate import Candidate

NETNS_ENV = "INTERVIEWER_FAULTS_NETNS"
VETH = ("ivflt0", "ivflt1")
SERVER_IP, CLIENT_IP = "10.204.0.1", "10.204.0.2"
PORT = 8765
ANSWERS = (
    "audio/en_librispeech_1089-134686-0000.flac",
    "audio/jfk.flac",
    "audio/en_ljspeech_LJ050-0131.wav",
    # A spare: the interviewer may ask a question twice (it stops its line when the candidate goes
    # on), and a harness out of answers hangs up, maybe in the middle of an outage.
    "audio/en_librispeech_1089-134686-0002.flac",
)
QUESTIONS = 3
SECRET = "faults-bench-" + "0" * 32
SPEAKING_S = 2.0
"""After a question is stored, when its answer is well under way (the harness waits 0.3 s, answers
last 7-11 s)."""
REPORT_WAIT_S = 900.0
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "faults"


# --- the candidate's side ---------------------------------------------------------------------------


async def _interview_with_a_rejoin(
    base_url: str, resume: Path, answers: list[Path], summary: dict[str, Any]
) -> None:
    import httpx

    await _healthy(base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        data = await asyncio.to_thread(resume.read_bytes)
        r = await http.post("/api/resumes", files={"file": (resume.name, data)})
        r.raise_for_status()
        r = await http.post(
            "/api/interviews",
            json={"resume_id": r.json()["id"], "question_count": QUESTIONS, "follow_ups": False},
        )
        r.raise_for_status()
    created = r.json()
    candidate = Candidate(base_url, created["id"], created["join_token"])
    ended = False
    try:
        await candidate.join()
        queue = list(answers)
        spoken = 0
        while queue:
            question = await candidate.next_question()
            if question is None:
                ended = True
                break
            spoken += 1
            if spoken == 2:
                _say("speaking", id=created["id"], answer=spoken)
                await candidate.answer(queue[0])  # into the cut network: the server hears little of it
                await asyncio.to_thread(sys.stdin.readline)  # the parent says the network is back
                await candidate.hangup()
                await candidate.join()
                continue  # the rejoined call asks the same question again; answer it once more
            await candidate.answer(queue.pop(0))
        if not ended:
            ended = await candidate.next_question() is None
    finally:
        await candidate.hangup()
    summary["server_errors"] += candidate.server_errors
    summary["unavailable"] += candidate.unavailable
    summary["interviews"].append({"id": created["id"], "ended": ended, "reason": "rejoined"})
    _say("interview-done", n=3, id=created["id"], ended=ended, reason="rejoined")


async def _healthy(base_url: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        for _ in range(120):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/api/health")).status_code == 200:
                    return
            await asyncio.sleep(1)


def _classify(summary: dict[str, Any], error: str) -> None:
    """A failed harness request: a 503 (retry soon) is counted apart from other 5xx answers."""
    match = re.search(r"(?: -> |error ')(5\d\d)", error)  # the harness's words, or httpx's
    if match:
        summary["unavailable" if match.group(1) == "503" else "server_errors"].append(error[:300])


def _say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def _client(base_url: str, resume: Path, answers: list[Path]) -> int:
    """The candidates' process (inside the nested namespace): prints JSON lines for the parent."""
    await asyncio.to_thread(sys.stdin.readline)  # the parent has wired the network
    summary: dict[str, Any] = {"interviews": [], "server_errors": [], "unavailable": []}
    for n in (1, 2):
        await _harness_interview(n, base_url, resume, answers, summary)

    # Interview 3: the network is cut during answer 2; after it is back the candidate rejoins.
    try:
        await _interview_with_a_rejoin(base_url, resume, answers, summary)
    except Exception as exc:
        _classify(summary, str(exc))
        _say("interview-failed", n=3, error=str(exc)[:300])
    # Interview 4: the server is killed under it (its call cannot survive that; its answers must).
    await _harness_interview(4, base_url, resume, answers, summary, killed=True)
    _say("summary", **summary)
    return 0


async def _harness_interview(
    n: int, base_url: str, resume: Path, answers: list[Path], summary: dict[str, Any], *, killed: bool = False
) -> None:
    from signaling import harness

    try:
        result = await harness.run(
            harness.HarnessOptions(
                base_url=base_url,
                resume=resume,
                answers=tuple(answers),
                question_count=QUESTIONS,
                follow_ups=False,
            )
        )
    except Exception as exc:
        if not killed:
            if not isinstance(exc, harness.HarnessError):
                raise
            _classify(summary, str(exc))
        # A call whose server was SIGKILLed fails by design (however the harness meets the dead
        # server): not a server error. What counts is its answers, stored or not.
        _say("interview-failed", n=n, error=str(exc)[:300])
        await _healthy(base_url)  # the next candidate comes once the server is back
        return
    errors = [e for e in result.events if e.get("type") == "error"]
    summary["server_errors"] += [f"error event: {e.get('message')}" for e in errors]
    summary["interviews"].append({"id": result.interview_id, "ended": result.ended, "reason": result.reason})
    _say("interview-done", n=n, id=result.interview_id, ended=result.ended, reason=result.reason)


# --- the parent: servers, faults, figures ----------------------------------------------------------------


@dataclass
class Fault:
    interview: int
    """1-based, in creation order."""
    when: str
    """``spoken`` or ``scored``."""
    answer: int
    """1-based."""
    kind: str
    """``postgres``, ``redis``, ``worker`` or ``network``."""
    done: str = ""


PLAN = (
    Fault(1, "spoken", 1, "postgres"),
    Fault(1, "scored", 2, "postgres"),
    Fault(1, "spoken", 3, "redis"),
    Fault(2, "scored", 1, "redis"),
    Fault(2, "spoken", 2, "worker"),
    Fault(2, "scored", 3, "worker"),
    Fault(3, "spoken", 2, "network"),
    Fault(4, "spoken", 1, "kill"),
)
JOURNALED_WAIT_S = 120.0
"""Longest wait, Postgres down, for the answer's turn to reach the journal (it ends ~10 s later)."""


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, text=True)


class Bench:
    def __init__(self, tmp: Path, options: argparse.Namespace) -> None:
        from bench.fault_servers import RestartablePostgres, RestartableRedis

        self.tmp = tmp
        self.options = options
        self.pg = RestartablePostgres(tmp / "servers")
        self.redis = RestartableRedis(tmp / "servers")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.client: subprocess.Popen[str] | None = None
        self.notes: list[str] = []
        self.stopping = False
        """Set once the candidates are done: the fault plan ends after the fault under way."""
        self.killed_queued = self.killed_failed = self.killed_retried = 0.0
        """Turn writes the SIGKILLed serve had queued and given up (its metrics die with it)."""

    # servers

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url,
            INTERVIEWER_DATA_DIR=str(self.tmp / "data"),
            INTERVIEWER_SECRET_KEY=SECRET,
            INTERVIEWER_EVAL_WORKERS="0",
            INTERVIEWER_RATE_LIMIT_PER_MINUTE="0",
            INTERVIEWER_INTAKE="open",
            INTERVIEWER_INTAKE_PER_ADDRESS_PER_HOUR="0",
            INTERVIEWER_INTAKE_GLOBAL_PER_HOUR="0",
            # Short enough for the bench to see the sweeper finish what a fault left behind.
            INTERVIEWER_ABANDONED_GRACE_S="60",
            INTERVIEWER_SWEEP_INTERVAL_S="5",
            INTERVIEWER_TTS_PRESYNTHESIZE="false",
        )
        return env

    def start(self) -> None:
        self.pg.start()
        self.redis.start()
        cli = [sys.executable, "-m", "signaling.cli"]
        self.start_serve()
        for n in (0, 1):
            wlog = (self.tmp / f"worker{n}.log").open("wb")
            self.procs[f"worker{n}"] = subprocess.Popen(
                [*cli, "worker", "--concurrency", "1", "--hostname", f"faults{n}@%h"],
                env=self.env(),
                stdout=wlog,
                stderr=wlog,
                start_new_session=True,
            )

    def start_serve(self) -> None:
        """Also after a SIGKILL: the new process appends to the same log, on the same data dir."""
        log = (self.tmp / "serve.log").open("ab")
        self.procs["serve"] = subprocess.Popen(
            # 0.0.0.0: the veth address appears only once the client's namespace exists.
            [sys.executable, "-m", "signaling.cli", "serve", "--host", "0.0.0.0", "--port", str(PORT)],
            env=self.env(),
            stdout=log,
            stderr=log,
        )

    async def wait_ready(self) -> None:
        url = f"http://127.0.0.1:{PORT}/api/health"  # the veth is wired later
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.procs["serve"].poll() is not None:
                raise SystemExit(f"serve exited; see {self.tmp / 'serve.log'}:\n{self.serve_log()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: ASYNC210 - start-up only
                    if resp.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(1)
        raise SystemExit("serve did not become ready")

    def serve_log(self) -> str:
        return (self.tmp / "serve.log").read_text(errors="replace")

    def close(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                if name.startswith("worker"):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
                else:
                    proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.client is not None and self.client.poll() is None:
            self.client.kill()
        self.redis.close()
        self.pg.close()

    # the database, read directly (a new connection each time: it restarts under us)

    async def sql(self, query: str, *args: Any) -> list[Any]:
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(self.pg.url.replace("postgresql+asyncpg://", "postgresql://"), timeout=3)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def poll(
        self,
        query: str,
        *args: Any,
        until: Callable[[list[Any]], bool],
        timeout_s: float,
        stoppable: bool = True,
    ) -> list[Any] | None:
        """The query's rows once ``until`` accepts them; None after ``timeout_s`` (or once the
        bench is stopping, if ``stoppable``). The database may be down meanwhile: a failed query is
        tried again."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not (stoppable and self.stopping):
            with contextlib.suppress(Exception):
                rows = await self.sql(query, *args)
                if until(rows):
                    return rows
            await asyncio.sleep(0.25)
        return None

    async def interview(self, n: int, timeout_s: float = 900) -> uuid.UUID:
        rows = await self.poll(
            "SELECT id FROM interviews ORDER BY created_at", until=lambda r: len(r) >= n, timeout_s=timeout_s
        )
        if rows is None:
            raise RuntimeError(f"interview {n} never appeared")
        return uuid.UUID(str(rows[n - 1]["id"]))

    # faults

    async def run_plan(self, client_lines: asyncio.Queue[dict[str, Any]]) -> None:
        for fault in PLAN:
            if self.stopping:
                return
            interview_id = await self.interview(fault.interview)
            if fault.kind == "network":
                await _next_line(client_lines, "speaking")
                await asyncio.sleep(SPEAKING_S)
                fault.done = await self.cut_network()
                continue
            k = fault.answer
            if fault.when == "spoken":
                asked = await self.poll(
                    "SELECT count(*) AS n FROM turns WHERE interview_id = $1 AND speaker = 'interviewer'"
                    " AND latencies->>'kind' <> 'close'",
                    interview_id,
                    until=_count_at_least(k),
                    timeout_s=600,
                )
                await asyncio.sleep(SPEAKING_S)
                scoring_pid = None
                note = "" if asked else " (question never seen)"
            else:
                answers = await self.poll(
                    "SELECT id FROM turns WHERE interview_id = $1 AND speaker = 'candidate' ORDER BY seq",
                    interview_id,
                    until=_rows_at_least(k),
                    timeout_s=600,
                )
                running = await self.poll(
                    "SELECT worker FROM evaluations WHERE interview_id = $1 AND status = 'running'",
                    interview_id,
                    until=bool,
                    timeout_s=30 if answers else 0,
                )
                note = "" if running else " (scoring not seen running: injected after 30 s)"
                scoring_pid = _pid(running[0]["worker"]) if running and running[0]["worker"] else None
            fault.done = await self.inject(fault.kind, scoring_pid) + note
            print(
                f"  fault {fault.kind} while answer {fault.answer} of interview {fault.interview} is "
                f"{fault.when}: {fault.done}",
                flush=True,
            )

    async def inject(self, kind: str, scoring_pid: int | None) -> str:
        started = time.monotonic()
        if kind == "postgres":
            await asyncio.to_thread(self.pg.stop)
            await asyncio.sleep(self.options.pg_down_s)
            await asyncio.to_thread(self.pg.resume)
            return f"Postgres down {time.monotonic() - started:.1f} s"
        if kind == "redis":
            await asyncio.to_thread(self.redis.stop)
            await asyncio.sleep(self.options.redis_down_s)
            await asyncio.to_thread(self.redis.start)
            return f"Redis down {time.monotonic() - started:.1f} s"
        if kind == "worker":
            pid = scoring_pid or _pool_child(self.procs["worker0"].pid)
            if pid is None:
                return "no worker process found"
            os.kill(pid, signal.SIGKILL)
            return f"SIGKILL pid {pid} ({'scoring it' if scoring_pid else 'a pool process'})"
        if kind == "kill":
            return await self.kill_serve_while_postgres_is_down()
        raise ValueError(kind)

    async def kill_serve_while_postgres_is_down(self) -> str:
        from signaling.journal import read_outstanding
        from signaling.room_writes import journal_dir

        def journaled() -> list[dict[str, Any]]:
            found = []
            for path in journal_dir(self.tmp / "data").glob("journal-*.jsonl"):
                with contextlib.suppress(OSError):
                    found += [e.data for e in read_outstanding(path) if e.kind == "turn"]
            return found

        started = time.monotonic()
        await asyncio.to_thread(self.pg.stop)
        try:
            deadline = time.monotonic() + JOURNALED_WAIT_S
            # A file another process writes: no event to wait on.
            while time.monotonic() < deadline and not any(t["speaker"] == "candidate" for t in journaled()):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=10) as resp:  # noqa: ASYNC210
                metrics = resp.read().decode()
            serve = self.procs["serve"]
            serve.kill()  # SIGKILL
            await asyncio.to_thread(serve.wait, 60)
            self.killed_queued += _metric(metrics, TURN_QUEUED)
            self.killed_failed += _metric(metrics, TURN_FAILED)
            self.killed_retried += _metric(metrics, TURN_RETRIED)
            turns = journaled()
        finally:
            await asyncio.to_thread(self.pg.resume)
        down_s = time.monotonic() - started
        self.start_serve()
        await self.wait_ready()
        answers = sum(1 for t in turns if t["speaker"] == "candidate")
        return (
            f"Postgres down {down_s:.1f} s, serve SIGKILLed with {len(turns)} turns ({answers} answers) "
            f"in its journal only; a new serve ready {time.monotonic() - started - down_s:.1f} s later"
        )

    async def cut_network(self) -> str:
        assert self.client is not None
        pid = str(self.client.pid)
        started = time.monotonic()
        _run("tc", "qdisc", "add", "dev", VETH[0], "root", "blackhole")
        _run("nsenter", "-t", pid, "-n", "tc", "qdisc", "add", "dev", VETH[1], "root", "blackhole")
        await asyncio.sleep(self.options.drop_s)
        _run("tc", "qdisc", "del", "dev", VETH[0], "root")
        _run("nsenter", "-t", pid, "-n", "tc", "qdisc", "del", "dev", VETH[1], "root")
        assert self.client.stdin is not None
        self.client.stdin.write("restored\n")
        self.client.stdin.flush()
        done = f"network cut {time.monotonic() - started:.1f} s, then rejoined"
        print(f"  fault network while answer 2 of interview 3 is spoken: {done}", flush=True)
        return done

    def wire_client_network(self) -> None:
        assert self.client is not None
        pid = str(self.client.pid)
        _run("ip", "link", "add", VETH[0], "type", "veth", "peer", "name", VETH[1], "netns", pid)
        _run("ip", "addr", "add", f"{SERVER_IP}/24", "dev", VETH[0])
        _run("ip", "link", "set", VETH[0], "up")
        inside = ["nsenter", "-t", pid, "-n"]
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "ip", "addr", "add", f"{CLIENT_IP}/24", "dev", VETH[1])
        _run(*inside, "ip", "link", "set", VETH[1], "up")

    # figures

    async def figures(self, summary: dict[str, Any]) -> dict[str, Any]:
        # Every interview of this database is the bench's (a candidate that failed mid-way included).
        ids = [uuid.UUID(str(r["id"])) for r in await self.sql("SELECT id FROM interviews")]
        await self.poll(
            "SELECT count(*) FILTER (WHERE r.id IS NULL OR i.state <> 'ended') AS missing"
            " FROM interviews i LEFT JOIN reports r ON r.interview_id = i.id WHERE i.id = ANY($1::uuid[])",
            ids,
            until=lambda rows: rows[0]["missing"] == 0,
            timeout_s=REPORT_WAIT_S,
            stoppable=False,
        )
        stored = await self.sql("SELECT count(*) AS n FROM turns WHERE interview_id = ANY($1::uuid[])", ids)
        dup = await self.sql(
            "SELECT coalesce(sum(n - 1), 0) AS n FROM (SELECT count(*) AS n FROM turns"
            " WHERE interview_id = ANY($1::uuid[])"
            " GROUP BY interview_id, speaker, text, started_s, ended_s) g",
            ids,
        )
        reports = await self.sql(
            "SELECT count(*) AS n FROM reports WHERE interview_id = ANY($1::uuid[])", ids
        )
        live = await self.sql(
            "SELECT count(*) AS n FROM interviews WHERE id = ANY($1::uuid[]) AND state <> 'ended'", ids
        )
        statuses = await self.sql(
            "SELECT status, count(*) AS n FROM reports WHERE interview_id = ANY($1::uuid[]) GROUP BY status",
            ids,
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=10) as resp:  # noqa: ASYNC210
            metrics = resp.read().decode()
        queued = _metric(metrics, TURN_QUEUED) + self.killed_queued
        failed = _metric(metrics, TURN_FAILED) + self.killed_failed
        retried = _metric(metrics, TURN_RETRIED) + self.killed_retried
        tracebacks = self.serve_log().count("Traceback")
        errors = list(summary.get("server_errors", []))
        unavailable = list(summary.get("unavailable", []))
        print(f"  reports by status: {dict((r['status'], r['n']) for r in statuses)}")
        print(f"  turn writes: queued={queued:.0f} retried_tries={retried:.0f} given_up={failed:.0f}")
        print(f"  server errors: client-seen={errors} tracebacks_in_serve_log={tracebacks}")
        print(f"  503 (retry soon) answers the candidates got, not counted as errors: {unavailable}")
        print(f"  interviews the candidates completed: {summary.get('interviews', [])}")
        for note in self.notes:
            print(f"  note: {note}")
        return {
            "faults": sum(1 for f in PLAN if f.done),
            "turns_expected": int(queued),
            "turns_stored": stored[0]["n"],
            "duplicate_rows": dup[0]["n"],
            "reports_written": f"{reports[0]['n']}/{len(ids)}",
            "interviews_stuck_live": live[0]["n"],
            # A write given up is the server failing too (its error event goes to watchers only).
            "server_errors": len(errors) + tracebacks + int(failed),
        }


TURN_QUEUED = 'interviewer_outbox_writes_total{kind="turn",outcome="queued"}'
TURN_FAILED = 'interviewer_outbox_writes_total{kind="turn",outcome="failed"}'
TURN_RETRIED = 'interviewer_outbox_writes_total{kind="turn",outcome="retried"}'


def _count_at_least(k: int) -> Callable[[list[Any]], bool]:
    return lambda rows: bool(rows[0]["n"] >= k)


def _rows_at_least(k: int) -> Callable[[list[Any]], bool]:
    return lambda rows: len(rows) >= k


def _pid(worker: str) -> int | None:
    match = re.search(r":(\d+)$", worker)
    return int(match.group(1)) if match else None


def _pool_child(parent: int) -> int | None:
    import psutil

    try:
        children = psutil.Process(parent).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    return children[0].pid if children else None


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def _next_line(lines: asyncio.Queue[dict[str, Any]], event: str) -> dict[str, Any]:
    while True:
        line = await lines.get()
        if line.get("event") == event:
            return line


async def _parent(options: argparse.Namespace) -> str:
    from tests.fixtures_paths import find_fixture
    from tests.resume_factory import EN_RESUME

    answers = [p for p in (find_fixture(a) for a in ANSWERS) if p is not None]
    if len(answers) < len(ANSWERS):
        raise SystemExit("needs the audio fixtures (../shared/fixtures/audio)")
    _run("ip", "link", "set", "lo", "up")
    tmp = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    resume = tmp / "resume.txt"
    resume.write_text(EN_RESUME)
    bench = Bench(tmp, options)
    summary: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    try:
        bench.start()
        await bench.wait_ready()
        print(f"  servers ready in {tmp}", flush=True)
        env = {**os.environ, NETNS_ENV: "client"}
        bench.client = subprocess.Popen(  # noqa: ASYNC220 - started once, runs for the whole bench
            [
                "unshare",
                "-n",
                sys.executable,
                "-m",
                "bench.faults",
                "--client",
                "--url",
                f"http://{SERVER_IP}:{PORT}",
                "--resume",
                str(resume),
                *map(str, answers),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        await asyncio.sleep(0.5)  # unshare has made the namespace and exec'd Python
        bench.wire_client_network()
        assert bench.client.stdin is not None
        assert bench.client.stdout is not None
        bench.client.stdin.write("go\n")
        bench.client.stdin.flush()
        # Two readers of the client's lines (the fault plan, and this wait for the end): each its own.
        lines: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        plan_lines: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def deliver(line: dict[str, Any]) -> None:
            lines.put_nowait(line)
            plan_lines.put_nowait(line)

        def read_client() -> None:
            assert bench.client is not None
            assert bench.client.stdout is not None
            for raw in bench.client.stdout:
                with contextlib.suppress(json.JSONDecodeError):
                    line = json.loads(raw)
                    if line.get("event") != "summary":
                        print(f"  client: {raw.strip()}", flush=True)
                    loop.call_soon_threadsafe(deliver, line)
            loop.call_soon_threadsafe(deliver, {"event": "summary", "eof": True})

        loop = asyncio.get_running_loop()
        reader = asyncio.get_running_loop().run_in_executor(None, read_client)
        faults = asyncio.create_task(bench.run_plan(plan_lines))
        summary = await _next_line(lines, "summary")
        if summary.get("eof"):
            print("  client exited without a summary: see its output above", flush=True)
        # Not cancelled: a fault under way finishes (a stopped Postgres is started again).
        bench.stopping = True
        with contextlib.suppress(Exception):
            await faults
        await reader
        figures = await bench.figures(summary)
    finally:
        bench.close()
        # The server's and workers' logs outlive the run (test-artifacts/ is not tracked).
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for log in tmp.glob("*.log"):  # noqa: ASYNC240 - after the run, nothing left to wait on
            shutil.copy(log, ARTIFACTS / log.name)
        shutil.rmtree(tmp, ignore_errors=True)
    return " ".join(f"{k}={v}" for k, v in figures.items())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-down-s", type=float, default=20.0, help="how long Postgres stays down")
    parser.add_argument("--redis-down-s", type=float, default=5.0, help="how long Redis stays down")
    parser.add_argument("--drop-s", type=float, default=10.0, help="how long the network is cut")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--resume", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("answers", nargs="*", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.client:
        return asyncio.run(_client(options.url, options.resume, list(options.answers)))
    if os.environ.get(NETNS_ENV) != "parent":
        if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("tc") is None:
            raise SystemExit("needs root, unshare (util-linux) and tc (iproute2)")
        env = {**os.environ, NETNS_ENV: "parent"}
        return subprocess.run(
            ["unshare", "-n", sys.executable, "-m", "bench.faults", *sys.argv[1:]], env=env
        ).returncode
    print(asyncio.run(_parent(options)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
