"""Question quality of interview plans: every fixture resume and generated ones, in both languages,
planned by the real planner (real embedded Postgres+pgvector, real models) and read by a checker
the planner does not use (bench/question_defects.py).

    .venv/bin/python -m bench.interview_quality [--questions 8] [--quiet]

Last line: questions llm_written_pct defect_pct (and the same per language)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bench.question_defects import particle_faults, question_defects
from db.engine import unit_of_work
from db.models import ResumeChunk
from signaling.runtime import Runtime
from signaling.settings import load_settings
from tests.fixtures_paths import fixture_candidates
from tests.resume_factory import EN_RESUME, EN_RESUME_NO_ROLE, KO_RESUME, docx_bytes, pdf_bytes
from tests.resume_samples import EN_RESUME_FULLSTACK, KO_RESUME_FORM


async def main(n_questions: int, quiet: bool) -> str:
    docs: list[tuple[str, bytes]] = [(p.name, p.read_bytes()) for p in fixture_candidates("resumes")]
    docs += [
        ("generated_en.pdf", pdf_bytes(EN_RESUME)),
        ("generated_en_no_role.txt", EN_RESUME_NO_ROLE.encode()),
        ("generated_en_fullstack.docx", docx_bytes(EN_RESUME_FULLSTACK)),
        ("generated_ko.pdf", pdf_bytes(KO_RESUME)),
        ("generated_ko_form.pdf", pdf_bytes(KO_RESUME_FORM)),
        ("generated_ko_form.docx", docx_bytes(KO_RESUME_FORM)),
    ]
    totals: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        settings = load_settings(data_dir=Path(tmp), rate_limit_per_minute=0)
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
                    print(f"{name} [{lang}] role={plan.target_role!r}")
                    for q in plan.questions:
                        sources = [chunk_text[i] for i in q.chunk_ids if i in chunk_text]
                        faults = question_defects(q.text, language=lang, sources=sources or [""])
                        totals[f"{lang}_questions"] += 1
                        totals[f"{lang}_llm"] += q.source == "llm"
                        totals[f"{lang}_defective"] += bool(faults)
                        kinds.update(faults)
                        if faults or not quiet:
                            mark = "  DEFECT " + ",".join(faults) if faults else ""
                            extra = f" {particle_faults(q.text)}" if "wrong_particle" in faults else ""
                            print(f"  [{q.stage.value}] ({q.source}) {q.text}{mark}{extra}")
        finally:
            await rt.close()
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
    figures["resumes"] = len(docs)
    return " ".join(f"{k}={v}" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--quiet", action="store_true", help="print only defective questions")
    args = parser.parse_args()
    print(asyncio.run(main(args.questions, args.quiet)))
