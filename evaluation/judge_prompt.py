"""The judge's prompt, in English and Korean, with its worked examples.

The examples are written for this prompt and come from neither labelled set under
``tests/fixtures/answers`` (the validation set must stay unseen). They show both ends of the scale
on answers whose surface misleads: a fluent answer full of figures and "as a result" that answers
another question, a short, plain, strong answer, and one that only says the topic matters. Before
its ratings the judge writes what the question asks and what the answer is about: a small model
that names both can catch an answer to another question, which it rated highly when asked
directly. The static part (system text and examples) comes first and is the same for every answer
of a language, so llama.cpp reuses its evaluated prefix from one call to the next and pays only for
the question and the answer.
"""

from __future__ import annotations

import json

from agent.models.base import ChatMessage

QUOTE_MAX_CHARS = 40
"""Grammar-enforced: short quotes keep the output, and so the judge's time, small."""
TOPIC_MAX_CHARS = 40

_SYSTEM_EN = (
    "You grade one job interview answer. First write what the question asks and what the answer "
    "is really about, in a few words each. Then rate each criterion from 1 to 5:\n"
    "relevance: does it answer THIS question? 1 if it talks about something else.\n"
    "depth: concrete, correct detail of what the candidate did and why. 1-2 for buzzwords, "
    "claims, vague or wrong statements.\n"
    "structure: easy to follow, from context to outcome.\n"
    "communication: clear and concise (ignore fillers such as 'um').\n"
    "role_fit: shows skills the target role needs.\n"
    "An answer about another topic gets 1-2 on every criterion, however detailed. Figures, "
    "'as a result' and length earn nothing by themselves. With each rating copy an exact phrase "
    "of at most 5 words from the answer as evidence. JSON only."
)

_SYSTEM_KO = (
    "면접 답변 하나를 평가합니다. 먼저 질문이 묻는 것과 답변이 실제로 말하는 것을 각각 짧게 적으세요. "
    "그다음 각 항목을 1~5점으로 매기세요.\n"
    "relevance: 이 질문에 답했는가? 다른 이야기를 하면 1점\n"
    "depth: 본인이 무엇을 왜 했는지 구체적이고 정확한가? 유행어나 주장뿐이거나 모호하거나 틀리면 1~2점\n"
    "structure: 맥락에서 결과까지 따라가기 쉬운가\n"
    "communication: 명확하고 간결한가 ('음', '어' 같은 군말은 무시)\n"
    "role_fit: 지원 직무에 필요한 역량이 보이는가\n"
    "다른 주제를 말한 답변은 아무리 자세해도 모든 항목이 1~2점입니다. 수치나 '그 결과' 같은 표현, "
    "답변의 길이만으로는 점수를 주지 않습니다. 점수마다 답변에서 근거가 되는 구절을 5어절 이내로 "
    "그대로 옮겨 적으세요. JSON만 출력하세요."
)

Example = tuple[str, str, str, tuple[str, str], dict[str, tuple[int, str]]]

# The order matters to a small model, which leans on the last example it saw: a poor answer comes
# last, and the ratings differ between competencies so that no one pattern can be copied.
_EXAMPLES_EN: tuple[Example, ...] = (
    (
        "How did you resolve a disagreement about an API design?",
        "I am a big believer in ownership and collaboration. At my previous company I led the move "
        "to a new CI system, which reduced build times by 50 percent. As a result the team shipped "
        "faster and morale improved a lot.",
        "Backend Engineer",
        ("a disagreement about an API design", "moving to a new CI system"),
        {
            "relevance": (1, "led the move to a new"),
            "depth": (2, "reduced build times by 50 percent"),
            "structure": (2, "As a result the team"),
            "communication": (3, "a big believer in ownership"),
            "role_fit": (2, "a new CI system"),
        },
    ),
    (
        "How did you speed up the test suite?",
        "Most of the time went into creating a fresh database for every test. I switched to one "
        "database per worker, ran each test inside a transaction that is rolled back, and split the "
        "suite across four CI workers.",
        "Backend Engineer",
        ("how the test suite was sped up", "per-worker DBs, rollbacks, parallel CI"),
        {
            "relevance": (5, "one database per worker"),
            "depth": (5, "a transaction that is rolled back"),
            "structure": (4, "Most of the time went"),
            "communication": (4, "split the suite across"),
            "role_fit": (4, "ran each test inside"),
        },
    ),
    (
        "How do you keep a service's dependencies up to date?",
        "Keeping dependencies up to date is very important for every service. I always make sure "
        "our dependencies are up to date and follow the best practices, because outdated "
        "dependencies are risky.",
        "Backend Engineer",
        ("how dependencies are kept up to date", "says it is important, no method"),
        {
            "relevance": (3, "make sure our dependencies are"),
            "depth": (1, "follow the best practices"),
            "structure": (2, "is very important for every"),
            "communication": (3, "outdated dependencies are risky"),
            "role_fit": (2, "our dependencies are up to date"),
        },
    ),
)

_EXAMPLES_KO: tuple[Example, ...] = (
    (
        "API 설계에 대한 의견 차이를 어떻게 해결하셨나요?",
        "저는 주인의식과 협업을 무엇보다 중요하게 생각합니다. 이전 회사에서 새 CI 시스템 도입을 주도했고, "
        "빌드 시간을 50% 줄였습니다. 그 결과 팀의 배포 속도가 빨라지고 분위기도 좋아졌습니다.",
        "백엔드 개발자",
        ("API 설계 의견 차이의 해결", "새 CI 시스템 도입"),
        {
            "relevance": (1, "새 CI 시스템 도입을 주도했고"),
            "depth": (2, "빌드 시간을 50% 줄였습니다"),
            "structure": (2, "그 결과 팀의 배포 속도가"),
            "communication": (3, "주인의식과 협업을"),
            "role_fit": (2, "새 CI 시스템"),
        },
    ),
    (
        "테스트 실행 시간을 어떻게 줄이셨나요?",
        "테스트마다 새 데이터베이스를 만드는 데 시간이 가장 많이 들었습니다. "
        "그래서 워커마다 DB를 하나씩 두고, 각 테스트는 트랜잭션 안에서 돌린 뒤 롤백하게 바꿨고, "
        "CI 워커 네 개로 나눠 실행했습니다.",
        "백엔드 개발자",
        ("테스트 시간을 줄인 방법", "워커별 DB, 롤백, CI 병렬 실행"),
        {
            "relevance": (5, "CI 워커 네 개로 나눠"),
            "depth": (5, "트랜잭션 안에서 돌린 뒤 롤백하게"),
            "structure": (4, "시간이 가장 많이 들었습니다"),
            "communication": (4, "워커마다 DB를 하나씩 두고"),
            "role_fit": (4, "트랜잭션 안에서 돌린 뒤"),
        },
    ),
    (
        "서비스의 의존성은 어떻게 최신으로 유지하시나요?",
        "의존성을 최신으로 유지하는 것은 모든 서비스에서 정말 중요합니다. 저는 항상 의존성이 최신 상태인지 "
        "신경 쓰고 모범 사례를 따릅니다. 오래된 의존성은 위험하기 때문입니다.",
        "백엔드 개발자",
        ("의존성을 최신으로 유지하는 방법", "중요하다는 말뿐, 방법 없음"),
        {
            "relevance": (3, "의존성이 최신 상태인지"),
            "depth": (1, "모범 사례를 따릅니다"),
            "structure": (2, "정말 중요합니다"),
            "communication": (3, "오래된 의존성은 위험하기 때문입니다"),
            "role_fit": (2, "의존성을 최신으로 유지하는"),
        },
    ),
)


def user_message(question: str, answer: str, target_role: str | None, language: str) -> str:
    if language == "ko":
        role = f"지원 직무: {target_role}\n" if target_role else ""
        return f"{role}질문: {question}\n답변: {answer}"
    role = f"Target role: {target_role}\n" if target_role else ""
    return f"{role}Question: {question}\nAnswer: {answer}"


def reply_json(topics: tuple[str, str], ratings: dict[str, tuple[int, str]]) -> str:
    """The reply format the schema enforces:
    ``{"asked": "...", "answered": "...", "relevance": [rating, "quote"], ...}``."""
    reply: dict[str, object] = {"asked": topics[0], "answered": topics[1]}
    reply.update({k: [r, q] for k, (r, q) in ratings.items()})
    return json.dumps(reply, ensure_ascii=False)


def messages_for(question: str, answer: str, target_role: str | None, language: str) -> list[ChatMessage]:
    ko = language == "ko"
    messages = [ChatMessage("system", _SYSTEM_KO if ko else _SYSTEM_EN)]
    for q, a, role, topics, ratings in _EXAMPLES_KO if ko else _EXAMPLES_EN:
        messages.append(ChatMessage("user", user_message(q, a, role, language)))
        messages.append(ChatMessage("assistant", reply_json(topics, ratings)))
    messages.append(ChatMessage("user", user_message(question, answer, target_role, language)))
    return messages
