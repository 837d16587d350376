"""The ``interview`` command: serve, ingest a resume (and plan an interview), list models, migrate."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import InterviewerError

if TYPE_CHECKING:
    from signaling.settings import Settings

_T0 = time.perf_counter()


def _say(line: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.2f}s] {line}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    from signaling.settings import load_settings

    overrides: dict[str, object] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    return load_settings(args.config, **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from signaling.app import create_app

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, progress=_say)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # lifespan done and the socket listening: really ready
                _say(f"ready: http://{settings.host}:{settings.port}/  (API docs at /docs)")

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    Server(config).run()
    return 0


async def _ingest(args: argparse.Namespace) -> int:
    from signaling.runtime import Runtime

    settings = _settings(args)
    path = Path(args.file)
    data = await asyncio.to_thread(path.read_bytes)
    runtime = await Runtime.open(settings, progress=_say if not args.json else None)
    try:
        result = await runtime.ingestor.ingest(data, path.name, None, args.role)
        out: dict[str, object] = {
            "resume_id": str(result.resume_id),
            "language": result.parsed.language,
            "pages": result.pages,
            "target_role": result.target_role,
            "target_role_source": result.target_role_source,
            "header": result.parsed.header.model_dump(),
            "chunks": result.chunk_count,
        }
        if args.plan:
            plan = await runtime.planner.create_interview(
                result.resume_id,
                language=args.language,
                question_count=args.questions,
                max_questions=settings.max_question_count,
            )
            out["interview_id"] = str(plan.interview_id)
            out["questions"] = [
                {"stage": q.stage.value, "source": q.source, "text": q.text} for q in plan.questions
            ]
            out["plan_stats"] = plan.stats
    finally:
        await runtime.close()
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    header = result.parsed.header
    print(
        f"resume     {out['resume_id']}  "
        f"({result.parsed.language}, {result.pages} page(s), {result.chunk_count} chunks)"
    )
    print(f"name       {header.name or '-'}")
    print(f"contact    {header.email or '-'}  {header.phone or ''}")
    print(f"role       {result.target_role or '-'}  (from {result.target_role_source})")
    years = f"{header.years_experience:g}" if header.years_experience is not None else "-"
    print(f"experience {years} years")
    print(f"skills     {', '.join(header.skills) or '-'}")
    if args.plan:
        print(f"\ninterview  {out['interview_id']}")
        for i, q in enumerate(plan.questions, 1):
            print(f"{i:2}. [{q.stage.value:<13}] ({q.source}) {q.text}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from agent.models.registry import ModelRegistry, describe
    from signaling.runtime import model_paths

    settings = _settings(args)
    registry = ModelRegistry(model_paths(settings))
    try:
        infos = asyncio.run(registry.preload(tuple(args.roles), progress=_say))
    finally:
        registry.close()
    print(describe(infos))
    return 0


async def _migrate(args: argparse.Namespace) -> int:
    from db import migrate
    from db.embedded import EmbeddedPostgres
    from db.engine import EngineOptions, create_engine

    settings = _settings(args)
    pg = None
    url = settings.database_url
    if url is None:
        pg = EmbeddedPostgres(settings.data_dir)
        url = pg.start()
    engine = create_engine(EngineOptions(url=url))
    try:
        await migrate.upgrade(engine)
        print(f"schema at revision {await migrate.current_revision(engine)}")
    finally:
        await engine.dispose()
        if pg is not None:
            pg.stop()
    return 0


async def _simulate(args: argparse.Namespace) -> int:
    from signaling import harness

    async def drive(url: str) -> int:
        options = harness.HarnessOptions(
            base_url=url,
            resume=Path(args.resume),
            answers=harness.parse_answers(args.answers),
            language=args.language,
            question_count=args.questions,
            follow_ups=not args.no_follow_ups,
        )
        try:
            return await harness.main(options, as_json=args.json)
        except harness.HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    if args.url is not None:
        return await drive(args.url)
    # No server given: run one in this process on a free loopback port.
    from signaling.app import create_app
    from signaling.background import serve_in_background

    # Its own server, on loopback only, for this one run: the harness creates the interview as an
    # open-intake client would, without an interviewer's sign-in.
    settings = _settings(args).model_copy(update={"intake": "open", "intake_per_address_per_hour": 0})
    app = create_app(settings, progress=None if args.json else _say)
    async with serve_in_background(app) as url:
        return await drive(url)


def cmd_create_interviewer(args: argparse.Namespace) -> int:
    import getpass

    from signaling.auth import MIN_PASSWORD_CHARS, InterviewerStore

    settings = _settings(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name} (at least {MIN_PASSWORD_CHARS} characters): ")
        if getpass.getpass("again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    store = InterviewerStore(settings.interviewers_file or settings.data_dir / "interviewers.json")
    store.create(args.name, password, replace=args.replace)
    print(f"interviewer {args.name} can now sign in at /dashboard  (accounts in {store.path})")
    return 0


def _urls(settings: Settings) -> tuple[str, str]:
    """The database and Redis URLs, starting (or joining) the embedded servers when none is set."""
    from db.embedded import EmbeddedPostgres, EmbeddedRedis

    database_url = settings.database_url or EmbeddedPostgres(settings.data_dir).start()
    redis_url = settings.redis_url or EmbeddedRedis(settings.data_dir).start()
    return database_url, redis_url


def cmd_worker(args: argparse.Namespace) -> int:
    from evaluation.worker import run_worker
    from signaling.redact import redact_url
    from signaling.runtime import worker_config

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    database_url, redis_url = _urls(settings)
    config = worker_config(settings, database_url=database_url, redis_url=redis_url)
    _say(f"evaluation worker: {args.concurrency} processes, broker {redact_url(redis_url)}")
    return run_worker(
        config,
        concurrency=args.concurrency,
        nice=args.nice,
        hostname=args.hostname,
        loglevel=settings.log_level,
    )


def cmd_healthcheck(args: argparse.Namespace) -> int:
    from signaling import healthcheck

    settings = _settings(args)
    if args.target == "api":
        url = args.url or f"http://127.0.0.1:{settings.port}"
        ok, line = healthcheck.check_api(url)
    else:
        if settings.redis_url is None:
            print("worker: REDIS_URL is not set (a worker needs the deployment's Redis)", file=sys.stderr)
            return 1
        ok, line = healthcheck.check_worker(settings.redis_url, hostname=args.hostname)
    print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


async def _report(args: argparse.Namespace) -> int:
    import uuid

    from agent.errors import InvalidInputError, NotFoundError
    from db.engine import EngineOptions, create_engine, create_sessionmaker, unit_of_work
    from evaluation import reports
    from evaluation.report import render_text

    try:
        interview_id = uuid.UUID(args.interview_id)
    except ValueError as exc:
        raise InvalidInputError(f"not an interview id: {args.interview_id}") from exc
    settings = _settings(args)
    from db.embedded import EmbeddedPostgres

    pg = None
    url = settings.database_url
    if url is None:
        pg = EmbeddedPostgres(settings.data_dir)
        url = await asyncio.to_thread(pg.start)
    engine = create_engine(EngineOptions(url=url, pool_size=1))
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            report = await reports.stored_report(session, interview_id)
            progress = await reports.progress(session, interview_id) if report is None else None
    finally:
        await engine.dispose()
        if pg is not None:
            pg.stop()  # detaches; a server that serve also uses keeps running
    if report is None:
        if progress is None:
            raise NotFoundError(f"interview {interview_id} not found")
        print(
            f"no report yet: interview {progress.state}, {progress.scored}/{progress.answers} answers scored",
            file=sys.stderr,
        )
        return 3
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        print(render_text(report))
    return 0


def cmd_proxy_config(args: argparse.Namespace) -> int:
    from signaling.proxy_config import ProxyOptions, render_nginx, upstreams_from

    try:
        upstreams = upstreams_from(args.upstream)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(
        render_nginx(ProxyOptions(listen=args.listen, upstreams=upstreams, run_dir=args.run_dir))
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interview",
        description="Self-hosted realtime voice interviewer. With no DATABASE_URL/REDIS_URL set, "
        "embedded Postgres and Redis run inside the data dir.",
    )
    parser.add_argument("--config", help="settings file (KEY=value lines); also INTERVIEWER_CONFIG")
    parser.add_argument("--data-dir", type=Path, help="data folder (default: ./data; INTERVIEWER_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the web server (API, pages, later the calls)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.set_defaults(func=cmd_serve)

    ingest = sub.add_parser(
        "ingest", help="parse a resume (PDF, DOCX, TXT) and store it; --plan makes an interview"
    )
    ingest.add_argument("file", help="the resume file")
    ingest.add_argument("--role", help="target role, used only when the resume names none")
    ingest.add_argument(
        "--plan", action="store_true", help="also create an interview and print its questions"
    )
    ingest.add_argument("--language", choices=["en", "ko"], help="interview language (default: the resume's)")
    ingest.add_argument("--questions", type=int, default=8, help="number of planned questions (default 8)")
    ingest.add_argument("--json", action="store_true", help="print JSON instead of text")
    ingest.set_defaults(func=lambda a: asyncio.run(_ingest(a)))

    models = sub.add_parser("models", help="load each model role and print what was loaded")
    models.add_argument(
        "roles",
        nargs="*",
        default=["llm", "embeddings"],
        help="roles to load: llm, embeddings, stt, stt_en, tts, vad (default: llm embeddings)",
    )
    models.set_defaults(func=cmd_models)

    sim = sub.add_parser(
        "simulate",
        help="run a whole interview from recorded answers through a real WebRTC client",
        description="Upload RESUME, create an interview, join its call with an aiortc client and answer "
        "each question with the next audio file (WAV, FLAC, MP3), in real time. Prints both sides of the "
        "transcript and the per-turn latencies; exits non-zero if the interview did not complete.",
    )
    sim.add_argument("--resume", required=True, help="resume file (PDF, DOCX, TXT)")
    sim.add_argument("--answers", nargs="+", required=True, metavar="AUDIO", help="one audio file per answer")
    sim.add_argument("--url", help="a running server (default: start one in this process)")
    sim.add_argument("--language", choices=["en", "ko"], help="interview language (default: the resume's)")
    sim.add_argument("--questions", type=int, help="planned questions (default: one per answer)")
    sim.add_argument(
        "--no-follow-ups", action="store_true", help="ask exactly the planned questions (one answer each)"
    )
    sim.add_argument("--json", action="store_true", help="print the result as JSON")
    sim.set_defaults(func=lambda a: asyncio.run(_simulate(a)))

    who = sub.add_parser(
        "create-interviewer",
        help="create (or --replace) an interviewer account for the dashboard and reports",
    )
    who.add_argument("name", help="sign-in name (letters, digits, . _ @ -)")
    who.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    who.add_argument("--replace", action="store_true", help="reset the password of an existing account")
    who.set_defaults(func=cmd_create_interviewer)

    mig = sub.add_parser("migrate", help="apply database migrations (serve does this on start)")
    mig.set_defaults(func=lambda a: asyncio.run(_migrate(a)))

    worker = sub.add_parser(
        "worker",
        help="run evaluation workers (Celery) against this deployment's Redis and Postgres",
        description="Score answers and write reports for the servers sharing DATABASE_URL/REDIS_URL. serve "
        "starts local workers by itself (INTERVIEWER_EVAL_WORKERS); run this on other machines.",
    )
    worker.add_argument("--concurrency", type=int, default=2, help="pool processes (default 2)")
    worker.add_argument("--nice", type=int, default=0, help="lower the OS priority by this much (default 0)")
    worker.add_argument("--hostname", help="Celery node name (default celery@HOST)")
    worker.set_defaults(func=cmd_worker)

    health = sub.add_parser(
        "healthcheck",
        help="exit 0 if the API or this host's evaluation worker is healthy (container health checks)",
    )
    health.add_argument("target", choices=["api", "worker"])
    health.add_argument("--url", help="api: the server's base URL (default http://127.0.0.1:PORT)")
    health.add_argument("--hostname", help="worker: the Celery node name (default celery@HOST)")
    health.set_defaults(func=cmd_healthcheck)

    proxy = sub.add_parser(
        "proxy-config",
        help="print an nginx configuration that spreads requests over several serve processes",
        description="Print the reverse proxy's configuration (nginx) for serve processes that share "
        "DATABASE_URL and REDIS_URL: offers, pages and WebSockets go to any process; a full one "
        "(503) hands the request to the next. Save it and run: nginx -c FILE -g 'daemon off;' (in "
        "the foreground, as a service manager expects); the run dir must exist and be writable.",
    )
    proxy.add_argument(
        "--upstream",
        action="append",
        required=True,
        metavar="HOST:PORT",
        help="a serve process (repeat, or separate with commas)",
    )
    proxy.add_argument("--listen", default="127.0.0.1:8080", help="address and port (default 127.0.0.1:8080)")
    proxy.add_argument(
        "--run-dir", type=Path, default=Path("/run/interviewer-proxy"), help="pid, logs and temporary files"
    )
    proxy.set_defaults(func=cmd_proxy_config)

    rep = sub.add_parser("report", help="print an interview's report (exit 3 when it is not written yet)")
    rep.add_argument("interview_id", help="the interview id")
    rep.add_argument("--json", action="store_true", help="print the stored JSON")
    rep.set_defaults(func=lambda a: asyncio.run(_report(a)))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except InterviewerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
