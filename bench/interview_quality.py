"""Question quality of interview plans: every fixture resume and generated ones, in both languages,
planned by the real planner (real embedded Postgres+pgvector, real models) and read by a checker
the planner does not use (bench/question_defects.py).

    .venv/bin/python -m bench.interview_quality [--questions 8] [--quiet] [--offline]

``--offline`` plans without Postgres (for a machine where the pgvector build does not load): the
same embedder ranks the chunks in memory, and the planner's template path writes every question
(so llm_written_pct is 0 there by construction).

Last line: questions llm_written_pct defect_pct (and the same per language, with the planning time
per question: ``<lang>_s_per_question``, and the LLM model that planned)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bench.question_defects import particle_faults, question_defects, repeated_topics
from db.engine import unit_of_work
from db.models import ResumeChunk
from signaling.runtime import Runtime
from signaling.settings import load_settings
from tests.fixtures_paths import fixture_candidates
from tests.resume_factory import EN_RESUME, EN_RESUME_NO_ROLE, KO_RESUME, docx_bytes, pdf_bytes
from tests.resume_samples import EN_RESUME_FULLSTACK, KO_RESUME_FORM


def _documents() -> list[tuple[str, bytes]]:
    docs: list[tuple[str, bytes]] = [(p.name, p.read_bytes()) for p in fixture_candidates("resumes")]
    docs += [
        ("generated_en.pdf", pdf_bytes(EN_RESUME)),
        ("generated_en_no_role.txt", EN_RESUME_NO_ROLE.encode()),
        ("generated_en_fullstack.docx", docx_bytes(EN_RESUME_FULLSTACK)),
        ("generated_ko.pdf", pdf_bytes(KO_RESUME)),
        ("generated_ko_form.pdf", pdf_bytes(KO_RESUME_FORM)),
        ("generated_ko_form.docx", docx_bytes(KO_RESUME_FORM)),
    ]
    return docs


def _figures(totals: Counter[str], kinds: Counter[str], resumes: int) -> str:
    print("defects by kind: " + (", ".join(f"{k}={v}" for k, v in kinds.most_common()) or "none"))
    figures: dict[str, float | int] = {}
    n = totals["en_questions"] + totals["ko_questions"]
    figures["questions"] = n
    figures["llm_written_pct"] = round(100 * (totals["en_llm"] + totals["ko_llm"]) / n, 1)
    figures["defect_pct"] = round(100 * (totals["en_defective"] + totals["ko_defective"]) / n, 1)
    for lang in ("en", "ko"):
        m = totals[f"{lang}_questions"]
        figures[f"{lang}_llm_written_pct"] = round(100 * totals[f"{lang}_llm"] / m, 1)
        figures[f"{lang}_defect_pct"] = round(100 * totals[f"{lang}_defective"] / m, 1)
        if totals[f"{lang}_plan_ms"]:
            figures[f"{lang}_s_per_question"] = round(totals[f"{lang}_plan_ms"] / 1000 / m, 2)
    figures["resumes"] = resumes
    return " ".join(f"{k}={v}" for k, v in figures.items())


def _count(
    totals: Counter[str],
    kinds: Counter[str],
    lang: str,
    stage: str,
    source: str,
    text: str,
    sources: list[str],
    quiet: bool,
    repeat: bool = False,
) -> None:
    faults = question_defects(text, language=lang, sources=sources or [""])
    faults += ["repeated_topic"] * repeat
    totals[f"{lang}_questions"] += 1
    totals[f"{lang}_llm"] += source == "llm"
    totals[f"{lang}_defective"] += bool(faults)
    kinds.update(faults)
    if faults or not quiet:
        mark = "  DEFECT " + ",".join(faults) if faults else ""
        extra = f" {particle_faults(text)}" if "wrong_particle" in faults else ""
        print(f"  [{stage}] ({source}) {text}{mark}{extra}", flush=True)


async def offline(n_questions: int, quiet: bool) -> str:
    import numpy as np

    from agent.models.registry import ModelRegistry
    from agent.plan.stages import INTENTS, allocate
    from agent.plan.templates import pick_fact, template_question
    from agent.resume.chunking import chunk_resume
    from agent.resume.extract import ExtractLimits, extract_text
    from agent.resume.rules import extract_header_rules
    from signaling.runtime import model_paths

    docs = _documents()
    totals: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        registry = ModelRegistry(model_paths(load_settings(data_dir=Path(tmp))))
        await registry.preload(("embeddings",))
        embedder = registry.embedder
        try:
            for name, data in docs:
                text = extract_text(data, name, None, ExtractLimits()).text
                header = extract_header_rules(text)
                chunks = [c.text for c in chunk_resume(text)]
                vectors = np.asarray(await embedder.embed(chunks, "passage"))
                for lang in ("en", "ko"):
                    print(f"{name} [{lang}] role={header.target_role!r}", flush=True)
                    used_chunks: set[int] = set()
                    used: list[str] = []
                    asked: list[str] = []
                    terms: list[str] = []
                    variants: dict[object, int] = {}
                    for stage in allocate(n_questions):
                        query = np.asarray(await embedder.embed_one(INTENTS[stage].query[lang], "query"))
                        order = [int(i) for i in np.argsort(-(vectors @ query.reshape(-1)))]
                        top = [i for i in order if i not in used_chunks][:3] or order[:3]
                        used_chunks.update(top)
                        avoid = [x for x in (header.name, header.target_role) if x]
                        fact = pick_fact(
                            [chunks[i] for i in top],
                            language=lang,
                            used=used,
                            avoid=avoid,
                            known=header.skills,
                        )
                        if fact is None:
                            fact = pick_fact(
                                [chunks[i] for i in order[:12]],
                                language=lang,
                                used=used,
                                avoid=avoid,
                                known=header.skills,
                            )
                        variant = variants.get(stage, 0)
                        variants[stage] = variant + 1
                        question = template_question(
                            stage,
                            lang,
                            fact,
                            header.target_role,
                            variant,
                            used_terms=terms,
                        )
                        if fact is not None:
                            used.append(fact.line)
                            used += [x for x in [fact.phrase(lang)] if x]
                            terms.extend(t for t in fact.terms if t in question)
                        _count(
                            totals,
                            kinds,
                            lang,
                            stage.value,
                            "template",
                            question,
                            [chunks[i] for i in top] + ([fact.line] if fact else []),
                            quiet,
                            repeated_topics([*asked, question], language=lang)[-1],
                        )
                        asked.append(question)
        finally:
            registry.close()
    return "mode=offline " + _figures(totals, kinds, len(docs))


async def main(n_questions: int, quiet: bool, limit: int | None) -> str:
    docs = _documents()[:limit]
    totals: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    model: str | None = None
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp), rate_limit_per_minute=0, enable_calls=False, eval_workers=0
        )
        rt = await Runtime.open(settings, progress=lambda s: print(f"  {s}"))
        try:
            for name, data in docs:
                res = await rt.ingestor.ingest(data, name, None)
                async with unit_of_work(rt.sessions) as session:
                    chunk_text = {
                        str(c.id): c.text
                        for c in await session.scalars(
                            select(ResumeChunk).where(ResumeChunk.resume_id == res.resume_id)
                        )
                    }
                for lang in ("en", "ko"):
                    plan = await rt.planner.create_interview(
                        res.resume_id, language=lang, question_count=n_questions
                    )
                    totals[f"{lang}_plan_ms"] += round(1000 * plan.stats["plan_s"])
                    model = plan.stats["llm_model"]
                    print(f"{name} [{lang}] role={plan.target_role!r} {plan.stats['plan_s']} s", flush=True)
                    repeats = repeated_topics([q.text for q in plan.questions], language=lang)
                    for q, repeat in zip(plan.questions, repeats, strict=True):
                        sources = [chunk_text[i] for i in q.chunk_ids if i in chunk_text]
                        _count(totals, kinds, lang, q.stage.value, q.source, q.text, sources, quiet, repeat)
        finally:
            await rt.close()
    return f"{_figures(totals, kinds, len(docs))} llm={model}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--quiet", action="store_true", help="print only defective questions")
    parser.add_argument("--offline", action="store_true", help="no Postgres: rank chunks in memory")
    parser.add_argument("--resumes", type=int, default=None, help="only the first N resumes")
    args = parser.parse_args()
    if args.offline:
        print(asyncio.run(offline(args.questions, args.quiet)))
    else:
        print(asyncio.run(main(args.questions, args.quiet, args.resumes)))
