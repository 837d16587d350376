"""Stage allocation, question validation and the template fallback."""

from __future__ import annotations

import json

import pytest

from agent.errors import ModelTimeoutError
from agent.models.registry import QWEN_ALIAS, SMOLLM2_ALIAS
from agent.plan.facts import english_fact, fix_particles, korean_fact
from agent.plan.planner import InterviewPlanner, PlanOptions
from agent.plan.stages import Stage, allocate
from agent.plan.templates import pick_fact, template_question
from agent.plan.validate import is_grounded, validate_question, wrong_particles
from bench.question_defects import question_defects
from signaling.settings import load_settings
from tests.fakes import FakeEmbedder, FakeLLM
from tests.resume_factory import EN_RESUME, KO_RESUME
from tests.resume_samples import EN_RESUME_FULLSTACK, KO_RESUME_FORM

FACTS = [
    "Senior Backend Engineer, Northwind Payments (2021 - Present)\n"
    "- Led the migration of the billing service to Kubernetes, cutting infrastructure costs by 30%.\n"
    "- jane@example.com | +1 415 555 0100"
]


@pytest.mark.parametrize("n", range(1, 21))
def test_allocate_counts_and_order(n: int) -> None:
    stages = allocate(n)
    assert len(stages) == n
    order = list(Stage)
    assert stages == sorted(stages, key=order.index)
    if n >= 5:
        assert set(stages) == set(Stage)
        assert stages[0] is Stage.INTRO
        assert stages[-1] is Stage.CLOSING


def test_allocate_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        allocate(0)


def test_eight_questions_favour_experience_and_technical() -> None:
    stages = allocate(8)
    assert stages.count(Stage.EXPERIENCE) == 2
    assert stages.count(Stage.TECHNICAL) == 2


GOOD = "How did you plan the billing service migration to Kubernetes, and what did it cost?"


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        (GOOD, None),
        ("Kubernetes?", "length"),
        ("How did you plan the billing service migration to Kubernetes, and what did it cost.", "question"),
        ("What is the most recent interview question you have ever asked a candidate?", "grounded"),
        ("Resume facts: Led the migration of the billing service to Kubernetes?", "prompt"),
        ("쿠버네티스로 결제 서비스를 이전하실 때 어떤 점이 어려웠나요?", "English"),
        (
            "Led the migration of the billing service to Kubernetes, cutting infrastructure costs by 30%?",
            "copies",
        ),
    ],
)
def test_validate_english(question: str, reason: str | None) -> None:
    verdict = validate_question(question, language="en", sources=FACTS, earlier=[])
    assert verdict.ok is (reason is None), verdict
    if reason:
        assert verdict.reason is not None
        assert reason in verdict.reason


def test_validate_rejects_repeat_of_earlier_question() -> None:
    verdict = validate_question(GOOD, language="en", sources=FACTS, earlier=[GOOD.replace("plan", "design")])
    assert not verdict.ok
    assert verdict.reason == "repeats an earlier question"


def test_validate_korean() -> None:
    ko_facts = ["정산 배치 시스템을 쿠버네티스로 이전하여 처리 시간을 40% 단축"]
    ok = validate_question(
        "정산 배치 시스템을 쿠버네티스로 이전하실 때 가장 어려웠던 점은 무엇이었나요?",
        language="ko",
        sources=ko_facts,
        earlier=[],
    )
    assert ok.ok, ok
    english = validate_question(GOOD, language="ko", sources=ko_facts, earlier=[])
    assert english.reason == "not Korean"


def test_grounding_needs_a_shared_content_word() -> None:
    assert is_grounded(GOOD, FACTS)
    assert not is_grounded("Where do you see yourself in five years?", FACTS)


def test_the_role_applied_for_does_not_ground_a_question() -> None:
    sources = ["Software Engineer at Acme, 2019-2023: moved billing to Kubernetes."]
    generic = "What is your background and why did you choose to work as a Software Engineer?"
    assert is_grounded(generic, sources)
    verdict = validate_question(generic, language="en", sources=sources, earlier=[], role="Software Engineer")
    assert verdict.reason == "not grounded in the retrieved resume text"
    specific = "How did you plan the move of the billing service to Kubernetes?"
    role = "Software Engineer"
    assert validate_question(specific, language="en", sources=sources, earlier=[], role=role).ok


def test_pick_fact_prefers_concrete_lines_over_contacts() -> None:
    fact = pick_fact(FACTS)
    assert fact is not None
    assert "Kubernetes" in fact.line
    assert "@" not in fact.line
    assert fact.subject_en == "leading the migration of the billing service to Kubernetes"
    assert fact.result_en == "cutting infrastructure costs by 30%"
    assert fact.terms == ("Kubernetes",)


def test_pick_fact_empty() -> None:
    assert pick_fact([]) is None
    assert pick_fact(["ok"]) is None


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("stage", list(Stage))
def test_templates_are_valid_questions(language: str, stage: Stage) -> None:
    fact = pick_fact(FACTS)
    for variant in range(3):
        text = template_question(stage, language, fact, "Backend Engineer", variant)  # type: ignore[arg-type]
        verdict = validate_question(text, language=language, sources=FACTS, earlier=[])  # type: ignore[arg-type]
        assert verdict.ok, (text, verdict)


def test_template_without_fact_or_role() -> None:
    text = template_question(Stage.INTRO, "en", None, None, 0)
    assert "this role" in text
    assert text.endswith("?")


def test_template_without_fact_in_korean() -> None:
    text = template_question(Stage.INTRO, "ko", None, None, 0)
    assert "이번 직무" in text
    assert text.endswith("?")


# --- facts taken apart, not pasted -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "subject", "result"),
    [
        (
            "Led the migration of the billing service to Kubernetes, cutting infrastructure costs by 30%.",
            "leading the migration of the billing service to Kubernetes",
            "cutting infrastructure costs by 30%",
        ),
        (
            "Reduced API response times by 40% through query optimization",
            None,
            "reducing API response times by 40% through query optimization",
        ),
        (
            "Mentored four junior engineers and ran the weekly architecture review.",
            "mentoring four junior engineers and running the weekly architecture review",
            None,
        ),
        ("Proficient in MongoDB, Express.js, React, and", None, None),  # a list cut by the PDF
        ("Languages: Java, Python, JavaScript", None, None),
    ],
)
def test_english_facts(line: str, subject: str | None, result: str | None) -> None:
    fact = english_fact(line)
    assert (fact.subject_en, fact.result_en) == (subject, result)


@pytest.mark.parametrize(
    ("line", "subject", "result"),
    [
        (
            "정산 배치 시스템을 쿠버네티스로 이전하여 처리 시간을 40% 단축했습니다.",
            "정산 배치 시스템을 쿠버네티스로 이전하신",
            "처리 시간을 40% 단축하신",
        ),
        ("Spring Boot를 활용한 REST API 개발", "Spring Boot를 활용한 REST API 개발", None),
        ("성과: 응답 속도 30% 개선", None, "응답 속도 30% 개선"),
        (
            "주니어 개발자 세 명의 코드 리뷰와 멘토링을 맡았습니다.",
            "주니어 개발자 세 명의 코드 리뷰와 멘토링을 맡으신",
            None,
        ),
        ("Languages: Java, Python, JavaScript", None, None),
        (
            "이후 3 년 내에는 머신러닝 기술을 보안 실무에 접목하여 최적화 프로젝트를 수행하겠습니다",
            None,
            None,
        ),
        ("지원 분야와 연관된 협업 경험 1 건을 선택하여, 본인의", None, None),  # cut by the PDF
        ("안랩은 대한민국 보안의 자부심이며, 사명감을 실천할 수 있는 터전입니다", None, None),
    ],
)
def test_korean_facts(line: str, subject: str | None, result: str | None) -> None:
    fact = korean_fact(line)
    assert (fact.subject_ko, fact.result_ko) == (subject, result)


def test_list_lines_give_technologies_only() -> None:
    fact = korean_fact("Languages: Java, Python, JavaScript")
    assert fact.terms == ("Java", "Python", "JavaScript")
    assert not fact.has_phrase


def test_particles_split_by_a_pdf_are_rejoined_and_chosen_by_reading() -> None:
    assert fix_particles("Snort 를 활용하여") == "Snort를 활용하여"
    assert fix_particles("Python를 사용해") == "Python을 사용해"
    assert fix_particles("API을 설계") == "API를 설계"


@pytest.mark.parametrize("resume", [EN_RESUME, KO_RESUME, KO_RESUME_FORM, EN_RESUME_FULLSTACK])
@pytest.mark.parametrize("language", ["en", "ko"])
def test_template_plans_pass_the_checker(resume: str, language: str) -> None:
    """Eight template questions over a whole resume: valid, different, and free of the faults the
    bench counts (cut quotes, list labels, repeats, misread numbers, wrong particles)."""
    used: list[str] = []
    terms: list[str] = []
    questions: list[str] = []
    variants: dict[Stage, int] = {}
    for stage in allocate(8):
        fact = pick_fact([resume], language=language, used=used)  # type: ignore[arg-type]
        variant = variants.get(stage, 0)
        variants[stage] = variant + 1
        text = template_question(stage, language, fact, "Backend Engineer", variant, used_terms=terms)  # type: ignore[arg-type]
        if fact is not None:
            used.append(fact.line)
            used += [x for x in [fact.phrase(language)] if x]
            terms.extend(t for t in fact.terms if t in text)
        assert question_defects(text, language=language, sources=[resume]) == [], text
        assert "“" not in text, text
        questions.append(text)
    assert len(set(questions)) == len(questions), questions


# --- faults of generated questions ---------------------------------------------------------------

KO_FORM_LINES = [
    "Languages: Java, Python, JavaScript",
    "Spring Boot를 활용한 REST API 개발",
    "성과: 응답 속도 30% 개선",
    "한국대학교 컴퓨터공학과 졸업 (2019)",
]
EN_FULLSTACK_LINES = [
    "Software Engineer, Brightside Labs (2019 - Present)",
    "Built a full-featured web application with React and Node.js for 12,000 users.",
]


@pytest.mark.parametrize(
    ("question", "language", "reason"),
    [
        ("Thinking of “Proficient in MongoDB, React, and”, how did you work with your team?", "en", "quotes"),
        ("“Languages: Java, Python, JavaScript” 경험에서 가장 어려웠던 점은 무엇이었나요?", "ko", "quotes"),
        ("Languages: Java, Python, JavaScript 중에서 가장 자주 쓰신 언어는 무엇인가요?", "ko", "label"),
        (
            "How did you manage a team of 2019 to create a full-featured web application with React?",
            "en",
            "number",
        ),
        (
            "How did you serve 15,000 users with the React and Node.js web application you built?",
            "en",
            "number",
        ),
        (
            "How did you choose React for the web application, and how did you choose React for the web app?",
            "en",
            "clause",
        ),
        ("Spring Boot를 활용한 REST API 개발라고 하셨는데, 어떤 점이 가장 어려웠나요?", "ko", "particle"),
        ("응답 속도 30% 개선와 관련해 어떤 방법을 쓰셨나요?", "ko", "particle"),
        ("Spring Boot를 활용한 REST API 개발에서 Python를 함께 쓰신 이유는 무엇인가요?", "ko", "particle"),
        # Seen from the 1.5B model: a Cyrillic conjunction, a statement asked as a question, English
        # words in a Korean question, a resume list read out.
        ("Java, Python, и 클라우드 플랫폼을 어떻게 쓰셨는지 말씀해 주세요.", "ko", "script"),
        ("Spring Boot로 REST API 개발을 진행했고, 배포를 수행했는가요?", "ko", "end"),
        ("Spring Boot로 만든 REST API의 성장 방향에 대한 설명을 드릴까요?", "ko", "end"),
        ("Spring Boot로 만든 REST API pipelines를 어떻게 운영하셨나요?", "ko", "English words"),
        ("How did you use React, Node.js, MongoDB, Express, and Python in the web app?", "en", "list"),
    ],
)
def test_validation_rejects_the_faults_seen_in_plans(question: str, language: str, reason: str) -> None:
    sources = KO_FORM_LINES if language == "ko" else EN_FULLSTACK_LINES
    verdict = validate_question(question, language=language, sources=sources, earlier=[])  # type: ignore[arg-type]
    assert not verdict.ok, question
    assert verdict.reason is not None
    assert reason in verdict.reason, verdict.reason


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Spring Boot로 REST API를 만드실 때 응답 속도를 30% 개선한 방법은 무엇이었나요?", "ko"),
        ("Java와 Python 중 새 서비스에 먼저 고르시는 언어는 무엇이고, 그 이유는 무엇인가요?", "ko"),
        ("At Brightside Labs, how did you keep the React web application fast for 12,000 users?", "en"),
    ],
)
def test_validation_accepts_a_paraphrase(question: str, language: str) -> None:
    sources = KO_FORM_LINES if language == "ko" else EN_FULLSTACK_LINES
    verdict = validate_question(question, language=language, sources=sources, earlier=[], paraphrase=True)  # type: ignore[arg-type]
    assert verdict.ok, verdict


def test_a_question_asked_the_way_an_earlier_one_was_is_rejected() -> None:
    earlier = ["Java와 Python으로 개발하실 때 어떤 문제를 겪었나요?"]
    again = "Spring Boot로 REST API를 만드실 때 어떤 문제를 겪었나요?"
    verdict = validate_question(again, language="ko", sources=KO_FORM_LINES, earlier=earlier, paraphrase=True)
    assert verdict.reason == "asks the way an earlier question did"


def test_a_pasted_line_is_no_paraphrase() -> None:
    pasted = "How exactly was it that you built a full-featured web application with React and Node.js?"
    assert validate_question(pasted, language="en", sources=EN_FULLSTACK_LINES, earlier=[]).ok
    verdict = validate_question(
        pasted, language="en", sources=EN_FULLSTACK_LINES, earlier=[], paraphrase=True
    )
    assert verdict.reason == "pastes the resume text"


@pytest.mark.parametrize(
    ("question", "wrong"),
    [
        ("Python를 쓰셨나요?", ["Python를"]),
        ("API을 설계하셨나요?", ["API을"]),
        ("개발라고 하셨죠?", ["개발라고"]),
        ("Kafka로 처리하고 Redis를 두셨나요?", []),
        ("HTML로 만들고 평가가 좋았나요?", []),  # 로 after ㄹ; 평가's 가 is the word's own
        ("30%를 줄이셨나요?", []),
    ],
)
def test_particles_are_checked_by_reading(question: str, wrong: list[str]) -> None:
    assert wrong_particles(question) == wrong


# --- the LLM path, with a scripted model -------------------------------------------------------------


def _planner(llm: FakeLLM) -> InterviewPlanner:
    return InterviewPlanner(sessions=None, embedder=FakeEmbedder(), llm=llm)  # type: ignore[arg-type]


async def test_a_rejected_question_is_tried_again_and_the_line_is_the_prompt() -> None:
    replies = iter(
        [
            {"question": "“Languages: Java, Python, JavaScript” 경험에서 무엇이 어려웠나요?"},
            {"question": "Java와 Python 중 새 서비스에 먼저 고르시는 언어는 무엇이고, 그 이유는 무엇인가요?"},
        ]
    )
    llm = FakeLLM(lambda _messages: json.dumps(next(replies), ensure_ascii=False))
    fact = korean_fact(KO_FORM_LINES[0])
    text, reason = await _planner(llm)._llm_question(
        Stage.TECHNICAL, "ko", "백엔드 개발자", fact, KO_FORM_LINES, earlier=[]
    )
    assert text is not None, reason
    assert text.startswith("Java와 Python"), text
    assert len(llm.calls) == 2
    prompt = llm.calls[0]
    assert prompt[-1].content.endswith(f"이력서 내용: {KO_FORM_LINES[0]}")
    # The worked examples come before the line and are the same for every question of a language.
    assert llm.calls[1][:-1] == prompt[:-1]
    llm.close()


async def test_korean_particles_of_a_generated_question_are_fixed_by_reading() -> None:
    llm = FakeLLM(
        {"question": "Spring Boot으로 REST API를 만드실 때 응답 속도를 30% 개선한 방법은 무엇이었나요?"}
    )
    fact = korean_fact(KO_FORM_LINES[1])
    text, _ = await _planner(llm)._llm_question(Stage.EXPERIENCE, "ko", None, fact, KO_FORM_LINES, earlier=[])
    assert text == "Spring Boot로 REST API를 만드실 때 응답 속도를 30% 개선한 방법은 무엇이었나요?"
    llm.close()


async def test_every_try_rejected_gives_the_reasons() -> None:
    llm = FakeLLM({"question": "How did you manage a team of 2019 to build the React web application?"})
    fact = english_fact(EN_FULLSTACK_LINES[1])
    text, reason = await _planner(llm)._llm_question(
        Stage.COLLABORATION, "en", None, fact, EN_FULLSTACK_LINES, earlier=[]
    )
    assert text is None
    assert reason is not None
    assert reason.count("a number the resume does not say") == 2
    llm.close()


def test_the_product_plans_with_the_bilingual_model_in_both_languages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("INTERVIEWER_LLM_PATH", "INTERVIEWER_LLM_LANGUAGES", "INTERVIEWER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert str(settings.llm_path) == QWEN_ALIAS
    assert settings.llm_languages == ["en", "ko"]
    assert PlanOptions().llm_languages == {"en", "ko"}
    monkeypatch.setenv("INTERVIEWER_LLM_PATH", SMOLLM2_ALIAS)  # the small model stays a setting away
    assert str(load_settings().llm_path) == SMOLLM2_ALIAS


async def test_a_model_timeout_is_not_retried() -> None:
    # A timed-out call keeps the model's thread busy: trying again would only queue behind it.
    llm = FakeLLM({"question": "unused"}, delay_s=0.3, timeout_s=0.05)
    fact = english_fact(EN_FULLSTACK_LINES[1])
    with pytest.raises(ModelTimeoutError):
        await _planner(llm)._llm_question(Stage.EXPERIENCE, "en", None, fact, EN_FULLSTACK_LINES, earlier=[])
    assert len(llm.calls) <= 1
    llm.close()
