# ruff: noqa: E501 - natural-language answers read better unwrapped than cut at column 110
"""A labelled set of interview answers, English and Korean, written for the evaluation tests: for
each question a good answer (2), a fair one (1) and a poor one (0). The evaluation must rank them in
that order on average. Questions match the generated resumes in ``tests.resume_factory``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Labelled:
    language: str
    question: str
    answer: str
    label: int
    """2 good, 1 fair, 0 poor."""
    duration_s: float
    """How long the answer would take to say: gives the speaking-rate feature realistic input."""


_EN_Q1 = "Tell me about the billing service migration to Kubernetes you led at Northwind Payments."
_EN_Q2 = "How did you design the payment ledger to be idempotent?"
_EN_Q3 = "Tell me about a time you disagreed with another team and how you resolved it."
_KO_Q1 = "정산 배치 시스템을 쿠버네티스로 이전한 경험에 대해 말씀해 주세요."
_KO_Q2 = "PostgreSQL 원장 시스템은 어떻게 설계하셨나요?"
_KO_Q3 = "주니어 개발자를 멘토링하면서 어려웠던 점은 무엇이었나요?"

QUALITY_SET: tuple[Labelled, ...] = (
    Labelled(
        "en",
        _EN_Q1,
        (
            "When I joined Northwind, the billing service ran on six hand-managed VMs and every deploy took an hour. "
            "My task was to move it to Kubernetes without downtime for the month-end billing run. I wrote the "
            "Helm charts, set up a canary deployment that mirrored ten percent of traffic, and migrated the cron "
            "jobs to Kubernetes jobs with idempotent retries. As a result deploys dropped to eight minutes and "
            "infrastructure costs fell by 30 percent."
        ),
        2,
        35.0,
    ),
    Labelled(
        "en",
        _EN_Q1,
        (
            "We moved the billing service to Kubernetes. I worked on the deployment files and testing. It took a "
            "few months and it went fine in the end, costs were a bit lower."
        ),
        1,
        12.0,
    ),
    Labelled(
        "en", _EN_Q1, "Um, yeah, it was, like, a migration. Uh, I don't really remember, you know.", 0, 7.0
    ),
    Labelled(
        "en",
        _EN_Q2,
        (
            "The ledger had to survive client retries, so every payment request carried an idempotency key. I "
            "designed a unique constraint on the key and the account, and wrote the insert as an upsert inside one "
            "transaction, so a retried request returned the first result instead of charging twice. We load tested "
            "it at 2,000 transactions per second and duplicate charges went to zero."
        ),
        2,
        28.0,
    ),
    Labelled(
        "en",
        _EN_Q2,
        (
            "I used PostgreSQL and made sure requests had an ID so they would not be processed twice. It worked "
            "well for us."
        ),
        1,
        9.0,
    ),
    Labelled("en", _EN_Q2, "Uh, I think it was idempotent because, um, we used a database.", 0, 6.0),
    Labelled(
        "en",
        _EN_Q3,
        (
            "At Contoso Search the ranking team wanted to change the query API every sprint, which broke our "
            "autocomplete service twice in one month. I proposed contract tests between the five teams, wrote the "
            "first shared test suite myself and ran a workshop to agree on versioning. After that integration "
            "incidents dropped by half and both teams kept shipping on their own schedule."
        ),
        2,
        30.0,
    ),
    Labelled(
        "en",
        _EN_Q3,
        (
            "Another team changed an API and it broke our service. We talked about it in a meeting and agreed to "
            "communicate better."
        ),
        1,
        9.0,
    ),
    Labelled("en", _EN_Q3, "I usually get along with everyone, so, um, not really.", 0, 5.0),
    Labelled(
        "ko",
        _KO_Q1,
        (
            "당시 정산 배치가 매일 새벽 여섯 시간씩 걸려서 아침 업무에 지장이 있었습니다. 제 역할은 배치를 쿠버네티스로 "
            "이전하면서 처리 시간을 줄이는 것이었습니다. 작업을 파티션 단위로 나누어 병렬 잡으로 설계하고, 실패한 파티션만 "
            "다시 실행하도록 구현했습니다. 그 결과 처리 시간을 40% 단축했고 새벽 장애 호출도 거의 없어졌습니다."
        ),
        2,
        30.0,
    ),
    Labelled("ko", _KO_Q1, "정산 배치를 쿠버네티스로 옮겼습니다. 시간이 좀 줄었고 잘 돌아갔습니다.", 1, 8.0),
    Labelled("ko", _KO_Q1, "음… 어, 그… 잘 기억이 안 나는데, 저기, 그냥 했던 것 같아요.", 0, 7.0),
    Labelled(
        "ko",
        _KO_Q2,
        (
            "거래가 중복으로 기록되지 않는 것이 가장 중요했습니다. 그래서 요청마다 멱등 키를 두고 계정과 키에 유니크 "
            "제약을 걸었으며, 한 트랜잭션 안에서 원장 기록과 잔액 갱신을 처리하도록 설계했습니다. 부하 테스트에서 초당 "
            "1,500건을 처리했고 중복 거래는 한 건도 발생하지 않았습니다."
        ),
        2,
        26.0,
    ),
    Labelled(
        "ko", _KO_Q2, "PostgreSQL로 테이블을 만들고 거래를 저장했습니다. 문제없이 동작했습니다.", 1, 7.0
    ),
    Labelled("ko", _KO_Q2, "어… 음, 그냥 데이터베이스 썼어요.", 0, 4.0),
    Labelled(
        "ko",
        _KO_Q3,
        (
            "주니어 세 명의 코드 리뷰를 맡았을 때 리뷰가 늦어져서 배포가 밀리는 문제가 있었습니다. 저는 리뷰 기준을 문서로 "
            "정리하고, 주 2회 페어 프로그래밍 시간을 만들었습니다. 결과적으로 리뷰 대기 시간이 절반으로 줄었고 두 명은 "
            "6개월 뒤 혼자 기능을 배포할 수 있게 되었습니다."
        ),
        2,
        28.0,
    ),
    Labelled(
        "ko", _KO_Q3, "리뷰를 많이 해줘야 해서 시간이 부족했습니다. 그래도 열심히 도와줬습니다.", 1, 7.0
    ),
    Labelled("ko", _KO_Q3, "음 글쎄요, 막 어려운 건 없었어요.", 0, 4.0),
)
