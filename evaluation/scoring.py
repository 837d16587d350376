"""One answer's score: the LLM judge combined with measured features, on a 0-100 scale.

Each competency gets a feature-based score from what can be measured (similarity to the question and
to the resume by embeddings, length, figures quoted, situation/action/result markers, fillers,
speaking rate). A model that can judge (the bilingual 1.5B) rates each competency 1-5 with a quote
from the answer (:mod:`evaluation.judge`); each rating that passed validation contributes
``llm_weight`` of its competency, so the judge is the main signal and the features explain it and
stand in where it failed. A model too small to judge (SmolLM2, ``rubric_models``) fills the older
rubric (:mod:`evaluation.rubric`), English only, at ``rubric_weight``. When the LLM gives nothing
usable (no model, another language, invalid output) the score is features only and
``llm_rejected`` records why.
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
from evaluation.judge import JUDGE_MAX, JUDGE_MIN, judge
from evaluation.rubric import COMPETENCIES, RATING_MAX
from evaluation.rubric import judge as rubric_judge

RUBRIC_LANGUAGES = ("en",)
"""The small rubric models read no Korean."""

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
    llm_kind: str | None
    """``judge`` (1-5 per competency, with quotes) or ``rubric`` (0-5, the small model); None when
    no LLM rating was used."""
    llm_quotes: dict[str, str]
    """Competency -> the judge's quote from the answer, the evidence for its rating."""
    llm_dropped: dict[str, str]
    """Competency -> why the judge's rating was not used (its feature score stands in)."""
    llm_seconds: float | None
    """The LLM call's own time (None when no rating was asked for or it failed)."""
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
            "llm": {
                "kind": self.llm_kind,
                "ratings": self.llm_ratings,
                "scale": f"{JUDGE_MIN}-{JUDGE_MAX}" if self.llm_kind == "judge" else f"0-{RATING_MAX}",
                "quotes": self.llm_quotes,
                "dropped": self.llm_dropped,
                "rejected": self.llm_rejected,
            },
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

    llm_scores = await _llm_scores(item, window, measured.words, llm, options)
    competencies: dict[str, float] = {}
    for name in COMPETENCIES:
        value = base[name]
        if name in llm_scores.values:
            value = (1 - llm_scores.weight) * value + llm_scores.weight * llm_scores.values[name]
        competencies[name] = round(100 * value, 1)
    overall = round(sum(competencies.values()) / len(competencies), 1)

    # The judge's quotes first (checked to be in the answer and tied to a rating), then the
    # sentence closest to the question and the first one that states a result.
    evidence: list[str] = []
    for quote in llm_scores.evidence:
        if _short(quote) not in evidence:
            evidence.append(_short(quote))
    if len(quotes) and answer:
        best = int(np.argmax(s_vecs @ q_vec))
        result_like = [q for q in quotes if "result" in feat.star_parts(q, item.language)]
        for sentence in (quotes[best], *result_like[:1]):
            if _short(sentence) not in evidence:
                evidence.append(_short(sentence))
    strengths, improvements = feedback_for(
        measured, competencies, evidence, item.language, quotes=llm_scores.quotes
    )
    models = {"embeddings": embedder.info.name}
    if llm_scores.ratings is not None and llm is not None:
        models["llm"] = llm.info.name
    return AnswerScore(
        competencies=competencies,
        overall=overall,
        features=measured,
        feature_scores={k: round(100 * v, 1) for k, v in base.items()},
        llm_ratings=llm_scores.ratings,
        llm_rejected=llm_scores.rejected,
        llm_kind=llm_scores.kind if llm_scores.ratings is not None else None,
        llm_quotes=llm_scores.quotes,
        llm_dropped=llm_scores.dropped,
        llm_seconds=llm_scores.seconds,
        evidence=evidence,
        strengths=strengths,
        improvements=improvements,
        models=models,
        embedding=a_vec,
    )


@dataclass(frozen=True, slots=True)
class _LLMScores:
    kind: str
    weight: float
    values: dict[str, float]
    """Competency -> 0-1 from the LLM, only for ratings that passed validation."""
    ratings: dict[str, int] | None
    rejected: str | None
    quotes: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    seconds: float | None = None


def _none(reason: str) -> _LLMScores:
    return _LLMScores("none", 0.0, {}, None, reason)


async def _llm_scores(
    item: AnswerInput, window: str, words: int, llm: ChatLLM | None, options: ScoringOptions
) -> _LLMScores:
    if llm is None:
        return _none("no LLM configured")
    rubric = options.uses_rubric(llm.info.name)
    languages = [lang for lang in options.llm_languages if not rubric or lang in RUBRIC_LANGUAGES]
    if item.language not in languages:
        return _none(f"the LLM is not used for '{item.language}' answers")
    if words < 3:
        return _none("answer too short to judge")
    if rubric:
        outcome = await rubric_judge(
            llm,
            question=item.question,
            answer=window,
            target_role=item.target_role,
            max_tokens=options.rubric_max_tokens,
        )
        if outcome.rubric is None:
            return _none(outcome.rejected or "rejected")
        ratings = outcome.rubric.ratings
        quote = (outcome.rubric.quote,) if outcome.rubric.quote else ()
        values = {k: v / RATING_MAX for k, v in ratings.items()}
        return _LLMScores(
            "rubric",
            options.rubric_weight,
            values,
            ratings,
            None,
            evidence=quote,
            seconds=outcome.rubric.seconds,
        )
    verdict = await judge(
        llm,
        question=item.question,
        answer=window,
        language=item.language,
        target_role=item.target_role,
        max_tokens=options.llm_max_tokens,
    )
    if verdict.judgement is None:
        return _none(verdict.rejected or "rejected")
    j = verdict.judgement
    values = {k: (v - JUDGE_MIN) / (JUDGE_MAX - JUDGE_MIN) for k, v in j.ratings.items()}
    # The relevance and depth quotes say most about the answer: they join the evidence list.
    evidence = tuple(j.quotes[k] for k in ("relevance", "depth") if k in j.quotes)
    return _LLMScores(
        "judge", options.llm_weight, values, j.ratings, None, j.quotes, j.dropped, evidence, j.seconds
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
