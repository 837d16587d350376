"""One answer's score: the LLM rubric combined with measured features, on a 0-100 scale.

Each competency gets a feature-based score from what can be measured (similarity to the question and
to the resume by embeddings, length, figures quoted, situation/action/result markers, fillers,
speaking rate). When the LLM's rubric passed validation it contributes ``llm_weight`` of each
competency; when it did not (or the answer's language is one the LLM does not read) the score is
features only and ``rubric.rejected`` records why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.errors import InvalidInputError
from agent.models.base import ChatLLM, Embedder
from evaluation import features as feat
from evaluation.config import ScoringOptions
from evaluation.feedback import feedback_for
from evaluation.rubric import COMPETENCIES, RATING_MAX, RubricOutcome, judge

# e5 cosine similarities live in a narrow band: unrelated sentences ~0.72-0.78, on-topic answers
# ~0.82-0.9. These bounds map that band to 0-1 (measured on the quality set in the tests).
_Q_SIM = (0.76, 0.88)
_RESUME_SIM = (0.76, 0.86)


@dataclass(frozen=True, slots=True)
class AnswerInput:
    question: str
    answer: str
    language: str
    target_role: str | None = None
    started_s: float | None = None
    ended_s: float | None = None
    resume_vectors: npt.NDArray[np.float32] | None = None
    """The resume's chunk embeddings (passages), one row per chunk."""


@dataclass(frozen=True, slots=True)
class AnswerScore:
    competencies: dict[str, float]
    overall: float
    features: feat.AnswerFeatures
    feature_scores: dict[str, float]
    llm_ratings: dict[str, int] | None
    llm_rejected: str | None
    evidence: list[str]
    strengths: list[dict[str, str]]
    improvements: list[dict[str, str]]
    models: dict[str, str]
    embedding: npt.NDArray[np.float32] = field(repr=False)

    def scores_json(self) -> dict[str, Any]:
        """What goes to ``evaluations.scores``."""
        return {
            "scale": "0-100",
            "overall": self.overall,
            "competencies": self.competencies,
            "feature_scores": self.feature_scores,
            "llm": {"ratings": self.llm_ratings, "scale": f"0-{RATING_MAX}", "rejected": self.llm_rejected},
            "evidence": self.evidence,
            "strengths": self.strengths,
            "improvements": self.improvements,
            "models": self.models,
        }


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def _band(value: float | None, lo: float, hi: float) -> float:
    return 0.5 if value is None else _clamp((value - lo) / (hi - lo))


def length_score(words: int, language: str) -> float:
    # Korean words (eojeol) carry about 1.5 English words each.
    scale = 0.65 if language == "ko" else 1.0
    short, enough, long = 8 * scale, 70 * scale, 350 * scale
    if words <= short:
        return 0.0
    if words < enough:
        return (words - short) / (enough - short)
    return 1.0 if words <= long else max(0.7, 1.0 - (words - long) / (long * 2))


def rate_score(f: feat.AnswerFeatures) -> float:
    if f.speaking_rate is None:
        return 1.0  # no timings (a typed answer): nothing to hold against it
    lo, hi = (3.0, 6.5) if f.language == "ko" else (100.0, 180.0)
    if lo <= f.speaking_rate <= hi:
        return 1.0
    off = (lo - f.speaking_rate) / lo if f.speaking_rate < lo else (f.speaking_rate - hi) / hi
    return _clamp(1.0 - 2.0 * off)


def feature_scores(f: feat.AnswerFeatures) -> dict[str, float]:
    """Competency -> 0-1 from features alone."""
    length = length_score(f.words, f.language)
    q_sim = _band(f.question_similarity, *_Q_SIM)
    r_sim = _band(f.resume_similarity, *_RESUME_SIM)
    specific = _clamp(f.numbers / 2) * 0.5 + (0.5 if "action" in f.star else 0.0)
    star = len(f.star) / 4
    fluency = _clamp(1.0 - f.filler_per_100_words / 10)
    return {
        "relevance": (0.7 * q_sim + 0.3) * (0.3 + 0.7 * length),
        "depth": 0.45 * length + 0.35 * specific + 0.2 * r_sim,
        "structure": (0.8 * star + (0.2 if f.sentences >= 3 else 0.1 * f.sentences)) * (0.4 + 0.6 * length),
        "communication": (0.6 * fluency + 0.4 * rate_score(f)) * (0.3 + 0.7 * min(1.0, length * 2)),
        "role_fit": (0.6 * r_sim + 0.4 * q_sim) * (0.4 + 0.6 * length),
    }


def _cosine_max(vector: npt.NDArray[np.float32], matrix: npt.NDArray[np.float32] | None) -> float | None:
    if matrix is None or len(matrix) == 0:
        return None
    return round(float(np.max(matrix @ vector)), 4)


async def score_answer(
    item: AnswerInput, *, llm: ChatLLM | None, embedder: Embedder, options: ScoringOptions
) -> AnswerScore:
    """Score one answer. Raises InvalidInputError for an answer that cannot be scored (too long):
    the task records it as failed with that reason."""
    if len(item.answer) > options.max_answer_chars:
        raise InvalidInputError(
            f"answer of {len(item.answer)} characters exceeds the scoring limit of {options.max_answer_chars}"
        )
    answer = item.answer.strip()
    window = scoring_window(answer, options.window_chars)
    quotes = feat.sentences(window)[:24]
    vectors = await embedder.embed([item.question, window or " ", *quotes], "query")
    q_vec, a_vec, s_vecs = vectors[0], vectors[1], vectors[2:]
    measured = feat.measure(answer, started_s=item.started_s, ended_s=item.ended_s, language=item.language)
    q_sim = round(float(a_vec @ q_vec), 4) if answer else 0.0
    r_sim = _cosine_max(a_vec, item.resume_vectors) if answer else 0.0
    measured = _with_similarity(measured, q_sim, r_sim)
    base = feature_scores(measured)

    outcome = RubricOutcome(None, "no LLM configured")
    if llm is not None and item.language not in options.llm_languages:
        outcome = RubricOutcome(None, f"the LLM is not used for '{item.language}' answers")
    elif llm is not None and measured.words < 3:
        outcome = RubricOutcome(None, "answer too short to judge")
    elif llm is not None:
        outcome = await judge(
            llm,
            question=item.question,
            answer=window,
            target_role=item.target_role,
            max_tokens=options.llm_max_tokens,
        )
    ratings = outcome.rubric.ratings if outcome.rubric else None
    competencies: dict[str, float] = {}
    for name in COMPETENCIES:
        value = base[name]
        if ratings is not None:
            value = (1 - options.llm_weight) * value + options.llm_weight * ratings[name] / RATING_MAX
        competencies[name] = round(100 * value, 1)
    overall = round(sum(competencies.values()) / len(competencies), 1)

    evidence: list[str] = []
    if len(quotes) and answer:
        best = int(np.argmax(s_vecs @ q_vec))
        evidence.append(_short(quotes[best]))
        result_like = [q for q in quotes if "result" in feat.star_parts(q, item.language)]
        if result_like and _short(result_like[0]) not in evidence:
            evidence.append(_short(result_like[0]))
    if outcome.rubric is not None and outcome.rubric.quote and _short(outcome.rubric.quote) not in evidence:
        evidence.append(_short(outcome.rubric.quote))
    strengths, improvements = feedback_for(measured, competencies, evidence, item.language)
    models = {"embeddings": embedder.info.name}
    if ratings is not None and llm is not None:
        models["llm"] = llm.info.name
    return AnswerScore(
        competencies=competencies,
        overall=overall,
        features=measured,
        feature_scores={k: round(100 * v, 1) for k, v in base.items()},
        llm_ratings=ratings,
        llm_rejected=outcome.rejected,
        evidence=evidence,
        strengths=strengths,
        improvements=improvements,
        models=models,
        embedding=a_vec,
    )


def scoring_window(text: str, chars: int) -> str:
    """The part of an answer the models read: all of it when short, else its opening (the
    situation, the task) and its close (the result), cut at word boundaries."""
    if len(text) <= chars:
        return text
    half = chars // 2
    head = text[:half].rsplit(" ", 1)[0]
    tail = text[-half:].split(" ", 1)[-1]
    return f"{head} … {tail}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _with_similarity(f: feat.AnswerFeatures, q_sim: float, r_sim: float | None) -> feat.AnswerFeatures:
    from dataclasses import replace

    return replace(f, question_similarity=q_sim, resume_similarity=r_sim)
