"""Does the answer score rank answers by quality? Both labelled sets through the real scoring path.

    .venv/bin/python -m bench.answer_ranking [--sets calibration,validation]
        [--llm qwen2.5-coder-1.5b] [--threads 2] [--details out.json]

Each answer of ``tests/fixtures/answers/{calibration,validation}.json`` is scored by
:func:`evaluation.scoring.score_answer` with the real embedder and the real LLM (the 1.5B judge by
default; ``--llm smollm2`` for the small model's rubric, ``--llm none`` for features only), grouped by
language as in an interview, so the judge's prompt prefix is evaluated once per language.
Spearman is the overall score against the 1-5 label; pairwise is the share of (good: label 4-5,
poor: label 1-2) pairs of the same language whose good answer scores higher (a tie counts half).
While tuning, score the calibration set alone (``--sets calibration``): the validation figures are
then printed as ``na``.
Last line: spearman_calibration= spearman_validation= pairwise_validation_pct=
en_spearman_validation= ko_spearman_validation= en_pairwise_validation_pct=
ko_pairwise_validation_pct= judge_s_p50= judge_s_p95= (and the judge's rejections).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "answers"
SETS = ("calibration", "validation")
ROLES = {"en": "Software Engineer", "ko": "소프트웨어 엔지니어"}


@dataclass(frozen=True, slots=True)
class Scored:
    set: str
    id: str
    language: str
    label: int
    overall: float
    seconds: float
    """The LLM's time for this answer (0 when no LLM rating was asked for)."""
    detail: dict[str, Any]


def load_set(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["items"]
    return items


def pairwise_pct(labels: list[int], scores: list[float]) -> float:
    right = total = 0.0
    for good_label, good_score in zip(labels, scores, strict=True):
        if good_label < 4:
            continue
        for poor_label, poor_score in zip(labels, scores, strict=True):
            if poor_label > 2:
                continue
            total += 1
            right += 1.0 if good_score > poor_score else 0.5 if good_score == poor_score else 0.0
    return round(100 * right / total, 1) if total else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def score_sets(names: list[str], llm_alias: str, threads: int, data_dir: Path) -> list[Scored]:
    from agent.models import registry as models
    from agent.models.registry import ModelPaths, ModelRegistry
    from evaluation.config import ScoringOptions
    from evaluation.scoring import AnswerInput, score_answer

    # The small model's alias, where the registry has one (the default LLM may be the 1.5B).
    small = getattr(models, "SMOLLM2_ALIAS", None)
    llm_path = {"none": None, "smollm2": Path(small) if small else None}.get(llm_alias, Path(llm_alias))
    registry = ModelRegistry(ModelPaths(data_dir=data_dir, llm_path=llm_path, llm_threads=threads))
    roles = ("embeddings",) if llm_alias == "none" else ("llm", "embeddings")
    await registry.preload(roles)
    llm = None if llm_alias == "none" else registry.llm
    options = ScoringOptions()
    out: list[Scored] = []
    try:
        for name in names:
            items = sorted(load_set(name), key=lambda i: i["language"])
            for item in items:
                started = time.perf_counter()
                score = await score_answer(
                    AnswerInput(
                        question=item["question"],
                        answer=item["answer"],
                        language=item["language"],
                        target_role=ROLES[item["language"]],
                    ),
                    llm=llm,
                    embedder=registry.embedder,
                    options=options,
                )
                wall = time.perf_counter() - started
                detail = {
                    "competencies": score.competencies,
                    "feature_scores": score.feature_scores,
                    "llm_kind": score.llm_kind,
                    "llm_ratings": score.llm_ratings,
                    "llm_quotes": score.llm_quotes,
                    "llm_dropped": score.llm_dropped,
                    "llm_rejected": score.llm_rejected,
                    "wall_s": round(wall, 3),
                }
                scored = Scored(
                    name, item["id"], item["language"], int(item["label"]), score.overall,
                    score.llm_seconds or 0.0, detail,
                )  # fmt: skip
                out.append(scored)
                ratings = score.llm_ratings or {}
                print(
                    f"{item['id']:<18} label={scored.label} overall={score.overall:5.1f} "
                    f"llm_s={scored.seconds:5.2f} ratings={ratings} "
                    f"rejected={score.llm_rejected} dropped={list(score.llm_dropped)}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        registry.close()
    return out


def figures(scored: list[Scored]) -> dict[str, str]:
    from evaluation.stats import spearman

    def rho(items: list[Scored]) -> str:
        if len(items) < 3:
            return "na"
        return f"{spearman([s.label for s in items], [s.overall for s in items]):.3f}"

    def pairwise(items: list[Scored]) -> str:
        by_language = [[s for s in items if s.language == lang] for lang in ("en", "ko")]
        labels = [s.label for group in by_language for s in group]
        if not labels:
            return "na"
        right = total = 0.0
        for group in by_language:
            pct = pairwise_pct([s.label for s in group], [s.overall for s in group])
            pairs = sum(1 for a in group if a.label >= 4) * sum(1 for b in group if b.label <= 2)
            if pairs:
                right += pct * pairs / 100
                total += pairs
        return f"{100 * right / total:.1f}" if total else "na"

    cal = [s for s in scored if s.set == "calibration"]
    val = [s for s in scored if s.set == "validation"]
    line = {
        "spearman_calibration": rho(cal),
        "spearman_validation": rho(val),
        "pairwise_validation_pct": pairwise(val),
    }
    for lang in ("en", "ko"):
        line[f"{lang}_spearman_validation"] = rho([s for s in val if s.language == lang])
    for lang in ("en", "ko"):
        line[f"{lang}_pairwise_validation_pct"] = pairwise([s for s in val if s.language == lang])
    seconds = [s.seconds for s in scored if s.seconds > 0]
    line["judge_s_p50"] = f"{statistics.median(seconds):.2f}" if seconds else "na"
    line["judge_s_p95"] = f"{percentile(seconds, 0.95):.2f}" if seconds else "na"
    line["pairwise_calibration_pct"] = pairwise(cal)
    for lang in ("en", "ko"):
        line[f"{lang}_spearman_calibration"] = rho([s for s in cal if s.language == lang])
    line["judged"] = str(sum(1 for s in scored if s.detail["llm_kind"] is not None))
    line["rejected"] = str(sum(1 for s in scored if s.detail["llm_kind"] is None))
    line["dropped_ratings"] = str(sum(len(s.detail["llm_dropped"]) for s in scored))
    line["answers"] = str(len(scored))
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: calibration,validation")
    parser.add_argument("--llm", default="qwen2.5-coder-1.5b", help="an LLM_PATH alias, smollm2, or none")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=None, help="where the 1.5B is joined (kept)")
    parser.add_argument("--details", type=Path, default=None, help="write every answer's scores here")
    args = parser.parse_args()
    names = [n for n in args.sets.split(",") if n]
    if not names or any(n not in SETS for n in names):
        parser.error(f"--sets takes names from {SETS}")
    with tempfile.TemporaryDirectory(prefix="bench-ranking-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        scored = asyncio.run(score_sets(names, args.llm, args.threads, data_dir))
    if args.details is not None:
        rows = [{"set": s.set, "id": s.id, "language": s.language, "label": s.label, "overall": s.overall,
                 "llm_s": s.seconds, **s.detail} for s in scored]  # fmt: skip
        args.details.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    print(" ".join(f"{k}={v}" for k, v in figures(scored).items()))


if __name__ == "__main__":
    main()
