"""Fuzz the whole OpenAPI surface of a real ``serve`` with schemathesis.

Starts ``interview serve`` on a free loopback port with a temporary data dir (embedded Postgres and
Redis, the real models), signs an interviewer in, and writes one real interview with its join
token straight to the database (so path parameters can name something that exists). Then, for every
operation in ``/openapi.json``, schemathesis generates requests from the schema, valid ones and
invalid ones, sent as an anonymous client, as the signed-in interviewer and with the interview's
join token, half of them aimed at the real interview. Each response is checked against the schema:
its status code is documented, its content type and headers are the declared ones, its body matches
the declared model. A response of 500 or more is a server error.

The API's per-client rate limit is off (INTERVIEWER_RATE_LIMIT_PER_MINUTE=0): the fuzzer is one
client sending far more than 600 requests a minute, and every 429 it got would say nothing about the
API. The sign-in and intake limits stay on (their 429s are documented where they apply).

Last line: ``requests= server_errors= schema_violations= accepted_invalid= operations= seconds=
pg_crashes=``. Goal: 0 server errors and 0 schema violations. ``pg_crashes`` counts Postgres
backends that died (SIGILL from a pgvector build this CPU cannot run, on some machines).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup

CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
PASSWORD = "fuzzing password 0123"
CLI = [sys.executable, "-m", "signaling.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``interview serve`` in its own process group, on a temporary data dir."""

    def __init__(self, data_dir: Path, *, calls: bool) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        self.env.update(
            INTERVIEWER_DATA_DIR=str(data_dir),
            INTERVIEWER_RATE_LIMIT_PER_MINUTE="0",
            INTERVIEWER_EVAL_WORKERS="0",
            INTERVIEWER_ENABLE_CALLS="true" if calls else "false",
        )
        self.proc: subprocess.Popen[str] | None = None
        self._drainer: threading.Thread | None = None
        self.log: list[str] = []

    def create_interviewer(self, name: str) -> None:
        subprocess.run(
            [*CLI, "create-interviewer", name, "--password-stdin"],
            input=PASSWORD + "\n",
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, timeout_s: float = 600) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port)],
            env=self.env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout_s
        for line in self.proc.stderr:
            self.log.append(line)
            if "ready: http" in line:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("serve did not become ready")
        else:
            raise RuntimeError("serve exited before ready:\n" + "".join(self.log))
        # Keep draining its log so the pipe never fills and blocks the server.
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        assert self.proc is not None
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(30)
        if self._drainer is not None:
            self._drainer.join(30)  # the pipe is at its end once the server is gone
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code

    def pg_crashes(self) -> int:
        log = self.data_dir / "postgres" / "log"
        if not log.exists():
            return 0
        return log.read_text(errors="replace").count("was terminated by signal")


def _login(base_url: str) -> str:
    body = json.dumps({"name": "fuzz", "password": PASSWORD}).encode()
    req = urllib.request.Request(
        f"{base_url}/api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        cookie = str(resp.headers["set-cookie"]).split(";", 1)[0]
    name, _, value = cookie.partition("=")
    assert name == "interviewer_session"
    return value


async def _write_interview(data_dir: Path) -> tuple[str, str]:
    """One planned interview, written straight to the server's database (the resume pipeline is
    fuzzed through the API; this only gives path parameters something real to point at)."""
    from db.embedded import EmbeddedPostgres
    from db.engine import EngineOptions, create_engine, create_sessionmaker, unit_of_work
    from db.models import Interview, Question
    from signaling.tokens import TokenSigner, load_or_create_secret
    from tests.interview_rows import resume_row

    pg = EmbeddedPostgres(data_dir)
    engine = create_engine(EngineOptions(url=pg.start(), pool_size=1))
    resume_id, interview_id = uuid.uuid4(), uuid.uuid4()
    text = "Jane Park\nBackend Engineer\n"
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            session.add(resume_row(resume_id, text))
            await session.flush()
            session.add(
                Interview(
                    id=interview_id,
                    resume_id=resume_id,
                    language="en",
                    target_role="Backend Engineer",
                    question_count=2,
                    plan_stats={},
                )
            )
            await session.flush()
            for i, q in enumerate(("Could you introduce yourself?", "What did you build last year?")):
                session.add(
                    Question(interview_id=interview_id, ord=i, stage="intro", text=q, source="template")
                )
    finally:
        await engine.dispose()
        pg.stop()  # detaches; the server keeps running
    token = TokenSigner(load_or_create_secret(data_dir / "secret.key")).issue(interview_id, ttl_s=7200)
    return str(interview_id), token


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.server_errors = 0
        self.violations = 0
        self.accepted_invalid = 0
        self.statuses: collections.Counter[str] = collections.Counter()
        self.examples: list[str] = []

    def note(self, text: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(text)


def fuzz(
    base_url: str,
    *,
    cookie: str,
    interview_id: str,
    token: str,
    examples: int,
    budget_s: float | None,
    seed: int,
) -> tuple[Tally, int]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    tally = Tally()
    session = requests.Session()
    started = time.monotonic()
    operations: list[Any] = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    identities = ("interviewer", "anonymous", "join_token")

    def send(op: Any, mode: GenerationMode, case: Any, n: int) -> None:
        if budget_s is not None and time.monotonic() - started > budget_s:
            return
        who = identities[n % len(identities)]
        if n % 2 == 0 and case.path_parameters and "interview_id" in case.path_parameters:
            case.path_parameters["interview_id"] = interview_id
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        if who == "interviewer":
            cookies["interviewer_session"] = cookie
        elif who == "join_token":
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = case.call(
                base_url=base_url, session=session, headers=headers, cookies=cookies, timeout=120
            )
        except requests.RequestException as exc:
            tally.requests += 1
            tally.server_errors += 1
            tally.note(f"{op.label} {who}: transport error {exc}")
            return
        tally.requests += 1
        tally.statuses[f"{response.status_code}"] += 1
        where = f"{op.label} [{mode.value}, {who}] {response.status_code}"
        if response.status_code >= 500:
            tally.server_errors += 1
            tally.note(f"{where}: {response.text[:200]}")
        try:
            case.validate_response(response, checks=CONFORMANCE)
        except (FailureGroup, Failure) as exc:
            failures = list(exc.exceptions) if isinstance(exc, FailureGroup) else [exc]
            tally.violations += len(failures)
            for f in failures:
                tally.note(f"{where}: {f.title}: {case.as_curl_command()[:300]}")
        if mode is GenerationMode.NEGATIVE:
            try:
                case.validate_response(response, checks=[negative_data_rejection])
            except (FailureGroup, Failure):
                tally.accepted_invalid += 1
                tally.note(f"{where}: accepted invalid data")

    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(op, mode, examples=examples, seed=seed, send=send)
    return tally, len(operations)


def _fuzz_operation(op: Any, mode: GenerationMode, *, examples: int, seed: int, send: Any) -> None:
    counter = [0]

    @hypothesis.given(case=op.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.seed(seed)
    def run(case: Any) -> None:
        counter[0] += 1
        send(op, mode, case, counter[0])

    # Unsatisfiable: nothing invalid to make (an operation without parameters has no negative cases).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--examples", type=int, default=60, help="examples per operation and mode (default 60)"
    )
    parser.add_argument("--budget-s", type=float, help="stop generating after this many seconds of fuzzing")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--no-calls", action="store_true", help="serve without the speech models (faster start)"
    )
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="api-fuzz-"))
    server = Server(data_dir, calls=not args.no_calls)
    t0 = time.monotonic()
    try:
        server.create_interviewer("fuzz")
        server.start()
        cookie = _login(server.url)
        interview_id, token = asyncio.run(_write_interview(data_dir))
        print(f"serve ready at {server.url} in {time.monotonic() - t0:.0f} s; fuzzing", file=sys.stderr)
        t1 = time.monotonic()
        tally, operations = fuzz(
            server.url,
            cookie=cookie,
            interview_id=interview_id,
            token=token,
            examples=args.examples,
            budget_s=args.budget_s,
            seed=args.seed,
        )
        seconds = time.monotonic() - t1
    finally:
        code = server.stop()
        crashes = server.pg_crashes()
        shutil.rmtree(data_dir, ignore_errors=True)
    tracebacks = sum("Traceback" in line for line in server.log)
    print(f"statuses: {dict(sorted(tally.statuses.items()))}")
    for line in tally.examples:
        print(f"  {line}")
    print(f"serve exit code {code}; tracebacks in its log: {tracebacks}")
    print(
        f"requests={tally.requests} server_errors={tally.server_errors} schema_violations={tally.violations} "
        f"accepted_invalid={tally.accepted_invalid} operations={operations} seconds={seconds:.0f} "
        f"pg_crashes={crashes}"
    )
    return 0 if tally.server_errors == 0 and tally.violations == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
