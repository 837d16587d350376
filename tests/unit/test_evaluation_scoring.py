"""Evaluation pieces without servers: features, rubric validation, the score with fake models (the
real public methods run; only ``_impl`` is scripted), the report, the worker config."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy.exc import OperationalError

from agent.errors import InvalidInputError, ModelError, ModelTimeoutError
from agent.models.registry import ModelPaths
from evaluation import features, rubric
from evaluation.answers import view_of
from evaluation.config import ScoringOptions, WorkerConfig, celery_url
from evaluation.report import build_report, render_text, stage_timings
from evaluation.scoring import AnswerInput, score_answer
from evaluation.stats import spearman
from evaluation.store import ReportInputs
from evaluation.tasks import is_transient
from tests.fakes import FakeEmbedder, FakeLLM

GOOD = (
    "When I joined the team, our billing jobs took six hours. My task was to cut that. I rewrote the batch "
    "as parallel jobs and added retries. As a result the run dropped to 40 minutes, a 90% reduction."
)
RATINGS = {"relevance": 4, "depth": 3, "structure": 4, "communication": 3, "role_fit": 4}


def test_fillers_are_counted_in_english_and_korean() -> None:
    assert features.filler_count("Um, I think, like, we, uh, you know, shipped it.", "en") == 4
    assert features.filler_count("I like Python and I mean business.", "en") == 1  # "I mean", not "like"
    assert features.filler_count("음, 어… 그, 저기 그 프로젝트에서 막 했어요", "ko") == 5
    assert features.filler_count("그 프로젝트를 이제 시작했습니다", "ko") == 0


def test_structure_rate_and_language() -> None:
    assert features.star_parts(GOOD, "en") == ["situation", "task", "action", "result"]
    ko = (
        "당시 처리 시간이 길었습니다. 제 역할은 배치를 개선하는 것이었고, 병렬로 설계했습니다. "
        "그 결과 40% 단축했습니다."
    )
    assert features.star_parts(ko, "ko") == ["situation", "task", "action", "result"]
    assert features.language_of(ko) == "ko"
    assert features.language_of(GOOD) == "en"
    measured = features.measure(GOOD, started_s=10.0, ended_s=25.0, language="en")
    assert measured.speaking_rate == pytest.approx(measured.words / 15 * 60, rel=0.01)
    assert features.measure("짧은 답", started_s=None, ended_s=None, language="ko").speaking_rate is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not JSON"),
        (json.dumps({**RATINGS, "depth": 9, "quote": ""}), "depth is 9"),
        (json.dumps({**RATINGS, "depth": True, "quote": ""}), "depth is True"),
        (json.dumps({**dict.fromkeys(RATINGS, 3), "quote": ""}), "the same rating"),
        (json.dumps({"relevance": 3}), "depth is None"),
    ],
)
def test_invalid_rubric_output_is_rejected_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        rubric.validate(raw, GOOD)


def test_a_quote_is_kept_only_if_the_answer_says_it() -> None:
    _, kept = rubric.validate(json.dumps({**RATINGS, "quote": "I rewrote the batch as parallel jobs"}), GOOD)
    assert kept == "I rewrote the batch as parallel jobs"
    _, invented = rubric.validate(json.dumps({**RATINGS, "quote": "I led a team of twenty people"}), GOOD)
    assert invented is None


def _item(answer: str = GOOD, language: str = "en") -> AnswerInput:
    return AnswerInput(question="How did you speed up the billing jobs?", answer=answer, language=language,
                       started_s=0.0, ended_s=20.0)  # fmt: skip


async def test_a_small_models_valid_rubric_is_blended_with_features() -> None:
    # A model named in rubric_models (SmolLM2 in production) fills the 0-5 rubric, not the judge.
    options = ScoringOptions(rubric_weight=0.25, rubric_models=("fake-llm",))
    with_llm = await score_answer(
        _item(), llm=FakeLLM({**RATINGS, "quote": "added retries"}), embedder=FakeEmbedder(), options=options
    )
    assert with_llm.llm_ratings == RATINGS
    assert with_llm.llm_rejected is None
    for name, rating in RATINGS.items():
        expected = 0.75 * with_llm.feature_scores[name] + 0.25 * rating * 20
        assert with_llm.competencies[name] == pytest.approx(expected, abs=0.11)
    assert with_llm.models == {"embeddings": "fake-embedder", "llm": "fake-llm"}
    assert with_llm.llm_kind == "rubric"


async def test_invalid_or_failing_llm_falls_back_to_features_with_the_reason() -> None:
    options = ScoringOptions()
    garbage = await score_answer(_item(), llm=FakeLLM("{oops"), embedder=FakeEmbedder(), options=options)
    assert garbage.llm_ratings is None
    assert garbage.llm_rejected is not None
    assert garbage.llm_rejected.startswith("invalid model output")
    assert garbage.competencies == garbage.feature_scores
    broken = await score_answer(
        _item(), llm=FakeLLM(fail_with=ValueError("bad grammar")), embedder=FakeEmbedder(), options=options
    )
    assert broken.llm_rejected is not None
    assert broken.llm_rejected.startswith("model error")
    # The small rubric model reads no Korean, whatever llm_languages says.
    korean = await score_answer(
        _item("음 그냥 했어요", "ko"),
        llm=FakeLLM({}),
        embedder=FakeEmbedder(),
        options=ScoringOptions(llm_languages=("en", "ko"), rubric_models=("fake-llm",)),
    )
    assert korean.llm_rejected == "the LLM is not used for 'ko' answers"
    french = await score_answer(
        _item("Je ne sais pas trop", "fr"), llm=FakeLLM({}), embedder=FakeEmbedder(), options=options
    )
    assert french.llm_rejected == "the LLM is not used for 'fr' answers"


async def test_a_model_timeout_propagates_so_the_task_retries() -> None:
    llm = FakeLLM(fail_with=ModelTimeoutError("slow"))
    with pytest.raises(ModelTimeoutError):
        await score_answer(_item(), llm=llm, embedder=FakeEmbedder(), options=ScoringOptions())


async def test_an_overlong_answer_is_refused_and_good_beats_poor() -> None:
    options = ScoringOptions(max_answer_chars=100)
    with pytest.raises(InvalidInputError, match="exceeds the scoring limit of 100"):
        await score_answer(_item(), llm=None, embedder=FakeEmbedder(), options=options)
    good = await score_answer(_item(), llm=None, embedder=FakeEmbedder(), options=ScoringOptions())
    poor = await score_answer(
        _item("Um, uh, I don't know."), llm=None, embedder=FakeEmbedder(), options=ScoringOptions()
    )
    assert good.overall > poor.overall
    assert any(i["competency"] == "structure" for i in poor.improvements)
    assert good.evidence
    assert all(e.rstrip("…")[:30] in GOOD for e in good.evidence)


def test_transient_errors_are_retried_and_bad_input_is_not() -> None:
    assert is_transient(ModelTimeoutError("slow"))
    assert is_transient(ModelError("busy"))
    assert is_transient(OperationalError("select 1", {}, Exception("connection reset")))
    assert is_transient(ConnectionResetError())
    assert not is_transient(InvalidInputError("too long"))
    assert not is_transient(KeyError("x"))


def _turn(seq: int, speaker: str, text: str, latencies: dict[str, Any]) -> Any:
    return SimpleNamespace(id=uuid.uuid4(), seq=seq, speaker=speaker, text=text, latencies=latencies)


def test_report_says_which_answers_failed_and_summarizes_timings() -> None:
    turns = [
        _turn(0, "interviewer", "Q1?", {"next_question_s": 1.0}),
        _turn(1, "candidate", GOOD, {"endpointing_s": 0.4, "kind": "answer"}),
        _turn(2, "interviewer", "Q2?", {"next_question_s": 2.0}),
        _turn(3, "candidate", "x" * 50, {"endpointing_s": 0.6}),
    ]
    scores = {
        "overall": 80.0,
        "competencies": dict.fromkeys(RATINGS, 80.0),
        "evidence": ["I rewrote the batch"],
        "strengths": [],
        "improvements": [],
        "llm": {"ratings": None, "rejected": "invalid model output: not JSON"},
        "models": {"embeddings": "e5"},
    }
    evaluations = {
        turns[1].id: SimpleNamespace(
            status="done", scores=scores, error=None, attempts=1, features={}, last_seq=1
        ),
        turns[3].id: SimpleNamespace(
            status="failed",
            scores={},
            error="InvalidInputError: too long",
            attempts=1,
            features={},
            last_seq=3,
        ),
    }
    interview = SimpleNamespace(id=uuid.uuid4(), language="en", target_role="Backend Engineer")
    views = [
        view_of(seq=t.seq, speaker=t.speaker, text=t.text, latencies=t.latencies, question_index=t.seq // 2)
        for t in turns
    ]
    views = [replace(v, turn_id=t.id) for v, t in zip(views, turns, strict=True)]
    report = build_report(
        ReportInputs(cast(Any, interview), None, cast(Any, turns), cast(Any, evaluations), views)
    )
    assert report["status"] == "partial"
    assert report["overall"] == 80.0
    assert report["answers_failed"] == [
        {"turn_id": str(turns[3].id), "seq": 3, "error": "InvalidInputError: too long"}
    ]
    assert "1 answer(s) could not be scored" in report["summary"]
    assert report["strengths"][0]["evidence"] == "I rewrote the batch"
    assert report["answers"][0]["question"] == "Q1?"
    assert report["stage_timings"]["next_question"] == {"count": 2, "p50_ms": 1500.0, "p95_ms": 1950.0}
    assert report["models"]["llm_rubric_rejected"] == {"invalid model output": 1}
    text = render_text(report)
    assert "reason: InvalidInputError: too long" in text


def test_stage_timings_skip_non_numbers() -> None:
    assert stage_timings([{"kind": "answer", "interrupted": False, "stt_final_s": 0.5}]) == {
        "stt_final": {"count": 1, "p50_ms": 500.0, "p95_ms": 500.0}
    }


def test_worker_config_round_trips_and_urls_convert(tmp_path: Path) -> None:
    config = WorkerConfig(
        broker_url="unix:///tmp/r.sock",
        database_url="postgresql+asyncpg://u@/db",
        model_paths=ModelPaths(data_dir=tmp_path, llm_path=tmp_path / "m.gguf"),
        scoring=ScoringOptions(llm_languages=("en", "ko")),
    )
    assert WorkerConfig.from_json(config.to_json()) == config
    assert celery_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"
    assert celery_url("redis://h:6379/0") == "redis://h:6379/0"
    with pytest.raises(ValueError, match="unsupported Redis URL"):
        celery_url("http://x")


def test_spearman() -> None:
    assert spearman([0, 1, 2], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([0, 0, 1, 1], [4, 3, 2, 1]) == pytest.approx(-0.894, abs=0.001)
