"""Quality check with the shipped models: on a labelled set of good, fair and poor answers (English
and Korean, written by these tests), the evaluation ranks good above fair above poor on average, and
its scores correlate with the labels (Spearman)."""

from __future__ import annotations

import statistics

import pytest

from agent.models.registry import ModelRegistry
from evaluation.config import ScoringOptions
from evaluation.scoring import AnswerInput, score_answer
from evaluation.stats import spearman
from tests.evaluation_data import QUALITY_SET
from tests.resume_factory import EN_RESUME, KO_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_good_answers_rank_above_poor_ones(models: ModelRegistry) -> None:
    resumes = {}
    for language, text in (("en", EN_RESUME), ("ko", KO_RESUME)):
        lines = [line for line in text.splitlines() if len(line) > 20]
        resumes[language] = await models.embedder.embed(lines, "passage")
    labels: list[float] = []
    scores: list[float] = []
    by_label: dict[tuple[str, int], list[float]] = {}
    for item in QUALITY_SET:
        score = await score_answer(
            AnswerInput(
                question=item.question,
                answer=item.answer,
                language=item.language,
                target_role="Backend Engineer",
                started_s=0.0,
                ended_s=item.duration_s,
                resume_vectors=resumes[item.language],
            ),
            llm=models.llm,
            embedder=models.embedder,
            options=ScoringOptions(),
        )
        assert all(0 <= v <= 100 for v in score.competencies.values())
        labels.append(item.label)
        scores.append(score.overall)
        by_label.setdefault((item.language, item.label), []).append(score.overall)
    rho = spearman(labels, scores)
    print(f"quality set: {len(scores)} answers, spearman={rho:.3f}")
    for language in ("en", "ko"):
        good, fair, poor = (statistics.fmean(by_label[(language, label)]) for label in (2, 1, 0))
        assert good > fair > poor, (language, good, fair, poor)
    assert rho >= 0.7
