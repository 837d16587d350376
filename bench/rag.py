"""Resume ingest, retrieval and planning figures on real embedded Postgres+pgvector and real models.

    .venv/bin/python -m bench.rag [--queries 1000] [--questions 8]

Last line: ingest_s_per_page retrieval_p50_ms retrieval_p95_ms plan_s grounded_pct llm_valid_pct
(grounded_pct: bench/grounding.py, a check the planner does not use)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from agent.plan.stages import INTENTS
from bench.grounding import GroundingCheck, grounded_share
from db import queries
from db.engine import unit_of_work
from db.models import ResumeChunk
from signaling.runtime import Runtime
from signaling.settings import load_settings
from tests.fixtures_paths import fixture_candidates
from tests.resume_factory import EN_RESUME, KO_RESUME, docx_bytes, pdf_bytes


def _pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


async def main(n_queries: int, n_questions: int) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-rag-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp), rate_limit_per_minute=0, enable_calls=False, eval_workers=0
        )
        rt = await Runtime.open(settings, progress=lambda s: print(f"  {s}"))
        try:
            docs: list[tuple[str, bytes]] = [
                ("generated_en.pdf", pdf_bytes(EN_RESUME)),
                ("generated_ko.pdf", pdf_bytes(KO_RESUME)),
                ("generated_ko.docx", docx_bytes(KO_RESUME)),
            ]
            docs += [(p.name, p.read_bytes()) for p in fixture_candidates("resumes")]
            resume_ids: list[uuid.UUID] = []
            candidate: dict[uuid.UUID, str] = {}  # one key per candidate: the pdf and docx are one
            pages = 0
            ingest_s = 0.0
            print(f"ingesting {len(docs)} resumes")
            for name, data in docs:
                t = time.perf_counter()
                res = await rt.ingestor.ingest(data, name, None)
                candidate[res.resume_id] = Path(name).stem
                dt = time.perf_counter() - t
                ingest_s += dt
                pages += res.pages
                resume_ids.append(res.resume_id)
                print(
                    f"  {name:<52} {res.pages} p  {res.chunk_count:3} chunks  {dt:5.2f} s  "
                    f"role={res.target_role!r} ({res.target_role_source})"
                )

            queries_text = [i.query[lang] for i in INTENTS.values() for lang in ("en", "ko")]
            queries_text += ["Python", "Kubernetes migration", "보안 취약점 분석", "team leadership", "React"]
            rng = random.Random(7)
            latencies: list[float] = []
            sql_only: list[float] = []
            print(f"running {n_queries} retrievals (embed query + pgvector top-3)")
            for _ in range(n_queries):
                rid = rng.choice(resume_ids)
                query = rng.choice(queries_text)
                t = time.perf_counter()
                vec = await rt.models.embedder.embed_one(query, "query")
                t_sql = time.perf_counter()
                async with unit_of_work(rt.sessions) as session:
                    rows = await queries.nearest_chunks(
                        session, rid, vec.tolist(), k=3, embedding_model=rt.models.embedder.info.name
                    )
                end = time.perf_counter()
                assert rows, "retrieval returned nothing"
                latencies.append((end - t) * 1000)
                sql_only.append((end - t_sql) * 1000)

            print(f"planning {n_questions} questions for each resume")
            plan_times: list[float] = []
            total = attempts = valid = 0
            resume_text: dict[str, str] = {}
            planned: dict[str, list[str]] = {}
            asked: list[tuple[str, str, str]] = []  # (candidate, question, source)
            for rid in resume_ids:
                t = time.perf_counter()
                plan = await rt.planner.create_interview(rid, language=None, question_count=n_questions)
                plan_times.append(time.perf_counter() - t)
                attempts += plan.stats["llm_attempts"]
                valid += plan.stats["llm_valid"]
                async with unit_of_work(rt.sessions) as session:
                    chunk_text = {
                        str(c.id): c.text
                        for c in await session.scalars(
                            select(ResumeChunk).where(ResumeChunk.resume_id == rid)
                        )
                    }
                key = candidate[rid]
                resume_text[key] = "\n".join(chunk_text.values())
                for q in plan.questions:
                    total += 1
                    planned.setdefault(key, []).append(q.text)
                    asked.append((key, q.text, q.source))
                valid_of = f"{plan.stats['llm_valid']}/{plan.stats['llm_attempts']}"
                print(f"  {plan.language} {plan_times[-1]:5.2f} s  llm valid {valid_of}")
                for q in plan.questions[:3]:
                    print(f"      [{q.stage.value}] ({q.source}) {q.text}")
        finally:
            await rt.close()
    # Grounding by a check the planner does not use (bench/grounding.py): the question names a term
    # only its own candidate's resume has.
    check = GroundingCheck.build(
        resume_text, planned, [i.query[lang] for i in INTENTS.values() for lang in ("en", "ko")]
    )
    for key, text, source in asked:
        if not check.grounded(key, text):
            print(f"      NOT GROUNDED {key} ({source}) {text}")
    figures = {
        "ingest_s_per_page": round(ingest_s / pages, 3),
        "retrieval_p50_ms": round(_pct(latencies, 50), 2),
        "retrieval_p95_ms": round(_pct(latencies, 95), 2),
        "retrieval_sql_p50_ms": round(_pct(sql_only, 50), 2),
        "plan_s": round(statistics.median(plan_times), 2),
        "grounded_pct": round(grounded_share(check, [(k, t) for k, t, _ in asked]), 1),
        "llm_valid_pct": round(100 * valid / attempts, 1) if attempts else 0.0,
        "resumes": len(resume_ids),
        "questions": total,
    }
    return " ".join(f"{k}={v}" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=8)
    args = parser.parse_args()
    print(asyncio.run(main(args.queries, args.questions)))
