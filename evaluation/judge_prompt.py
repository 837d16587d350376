"""The judge's prompt, in English and Korean, with its worked examples.

The examples are written for this prompt and come from neither labelled set under
``tests/fixtures/answers`` (the validation set must stay unseen). They show both ends of the scale
on answers whose surface misleads: a short, plain, strong answer and a fluent answer full of
figures and "as a result" that answers another question. The static part (system text and
examples) comes first and is the same for every answer of a language, so llama.cpp reuses its
evaluated prefix from one call to the next and pays only for the question and the answer.
"""

from __future__ import annotations

import json

from agent.models.base import ChatMessage

QUOTE_MAX_CHARS = 60
"""Grammar-enforced: short quotes keep the output, and so the judge's time, small."""

_SYSTEM_EN = (
    "You grade one job interview answer. Rate each criterion from 1 (poor) to 5 (excellent) by how "
    "well the answer answers THIS question: detail about a different topic earns nothing.\n"
    "relevance: answers the question asked (1: about something else, or no answer).\n"
    "depth: specific and technically correct: what the candidate did and why (1: buzzwords, "
    "claims, vague or wrong).\n"
    "structure: easy to follow: context, actions, then outcome or reasoning.\n"
    "communication: clear and concise; ignore spoken fillers such as 'um'.\n"
    "role_fit: shows skills the target role needs.\n"
    "Figures, 'as a result' and length earn nothing by themselves. For each criterion copy a short "
    "exact phrase (at most 6 words) from the answer as evidence. Reply with JSON only."
)

_SYSTEM_KO = (
    "면접 답변 하나를 평가합니다. 각 항목을 1점(나쁨)부터 5점(매우 좋음)까지 매기되, 이 질문에 얼마나 "
    "잘 답했는지를 기준으로 합니다. 다른 주제에 대한 내용은 아무리 자세해도 점수를 주지 않습니다.\n"
    "relevance: 질문에 대한 답인가 (1: 다른 이야기이거나 답이 없음)\n"
    "depth: 구체적이고 기술적으로 맞는가, 본인이 무엇을 왜 했는가 (1: 유행어나 주장뿐이거나, 모호하거나 "
    "틀림)\n"
    "structure: 맥락, 행동, 결과나 근거가 순서대로 있어 따라가기 쉬운가\n"
    "communication: 명확하고 간결한가 ('음', '어' 같은 군말은 무시)\n"
    "role_fit: 지원 직무에 필요한 역량이 보이는가\n"
    "수치나 '그 결과' 같은 표현, 답변의 길이만으로는 점수를 주지 않습니다. 항목마다 답변에서 근거가 "
    "되는 짧은 구절(6어절 이내)을 그대로 옮겨 적으세요. JSON만 출력하세요."
)

_EXAMPLES_EN: tuple[tuple[str, str, str, dict[str, tuple[int, str]]], ...] = (
    (
        "How did you speed up the test suite?",
        "Most of the time went into creating a fresh database for every test. I switched to one "
        "database per worker, ran each test inside a transaction that is rolled back, and split the "
        "suite across four CI workers.",
        "Backend Engineer",
        {
            "relevance": (5, "split the suite across four CI workers"),
            "depth": (5, "a transaction that is rolled back"),
            "structure": (4, "Most of the time went into"),
            "communication": (5, "one database per worker"),
            "role_fit": (4, "ran each test inside a transaction"),
        },
    ),
    (
        "How did you resolve a disagreement about an API design?",
        "I am a big believer in ownership and collaboration. At my previous company I led the move "
        "to a new CI system, which reduced build times by 50 percent. As a result the team shipped "
        "faster and morale improved a lot.",
        "Backend Engineer",
        {
            "relevance": (1, "led the move to a new CI system"),
            "depth": (2, "reduced build times by 50 percent"),
            "structure": (2, "As a result the team shipped faster"),
            "communication": (3, "a big believer in ownership"),
            "role_fit": (2, "a new CI system"),
        },
    ),
)

_EXAMPLES_KO: tuple[tuple[str, str, str, dict[str, tuple[int, str]]], ...] = (
    (
        "테스트 실행 시간을 어떻게 줄이셨나요?",
        "테스트마다 새 데이터베이스를 만드는 데 시간이 가장 많이 들었습니다. "
        "그래서 워커마다 DB를 하나씩 두고, 각 테스트는 트랜잭션 안에서 돌린 뒤 롤백하게 바꿨고, "
        "CI 워커 네 개로 나눠 실행했습니다.",
        "백엔드 개발자",
        {
            "relevance": (5, "CI 워커 네 개로 나눠 실행했습니다"),
            "depth": (5, "트랜잭션 안에서 돌린 뒤 롤백하게"),
            "structure": (4, "시간이 가장 많이 들었습니다"),
            "communication": (5, "워커마다 DB를 하나씩 두고"),
            "role_fit": (4, "트랜잭션 안에서 돌린 뒤"),
        },
    ),
    (
        "API 설계에 대한 의견 차이를 어떻게 해결하셨나요?",
        "저는 주인의식과 협업을 무엇보다 중요하게 생각합니다. 이전 회사에서 새 CI 시스템 도입을 주도했고, "
        "빌드 시간을 50% 줄였습니다. 그 결과 팀의 배포 속도가 빨라지고 분위기도 좋아졌습니다.",
        "백엔드 개발자",
        {
            "relevance": (1, "새 CI 시스템 도입을 주도했고"),
            "depth": (2, "빌드 시간을 50% 줄였습니다"),
            "structure": (2, "그 결과 팀의 배포 속도가"),
            "communication": (3, "주인의식과 협업을"),
            "role_fit": (2, "새 CI 시스템"),
        },
    ),
)


def user_message(question: str, answer: str, target_role: str | None, language: str) -> str:
    if language == "ko":
        role = f"지원 직무: {target_role}\n" if target_role else ""
        return f"{role}질문: {question}\n답변: {answer}"
    role = f"Target role: {target_role}\n" if target_role else ""
    return f"{role}Question: {question}\nAnswer: {answer}"


def reply_json(ratings: dict[str, tuple[int, str]]) -> str:
    """The reply format the schema enforces: ``{"relevance": [rating, "quote"], ...}``."""
    return json.dumps({k: [r, q] for k, (r, q) in ratings.items()}, ensure_ascii=False)


def messages_for(question: str, answer: str, target_role: str | None, language: str) -> list[ChatMessage]:
    ko = language == "ko"
    messages = [ChatMessage("system", _SYSTEM_KO if ko else _SYSTEM_EN)]
    for q, a, role, ratings in _EXAMPLES_KO if ko else _EXAMPLES_EN:
        messages.append(ChatMessage("user", user_message(q, a, role, language)))
        messages.append(ChatMessage("assistant", reply_json(ratings)))
    messages.append(ChatMessage("user", user_message(question, answer, target_role, language)))
    return messages
