"""Korean readings of digits, Latin letters and units, and the particles chosen from them."""

from __future__ import annotations

import pytest

from agent.text.josa import attach, josa
from agent.text.korean import final_consonant, native_number, read_latin, sino_number, speakable


@pytest.mark.parametrize(
    ("n", "reading"),
    [
        (0, "영"),
        (1, "일"),
        (10, "십"),
        (15, "십오"),
        (30, "삼십"),
        (100, "백"),
        (1500, "천오백"),
        (2019, "이천십구"),
        (10000, "만"),
        (15000, "만오천"),
        (120000, "십이만"),
        (100000000, "일억"),
        (12 * 10**20, "일이" + "영" * 20),  # past 경: digit by digit
    ],
)
def test_sino_numbers(n: int, reading: str) -> None:
    assert sino_number(n) == reading


def test_native_numbers_before_counters() -> None:
    assert [native_number(n) for n in (1, 2, 3, 4, 10, 20, 25, 99)] == [
        "한",
        "두",
        "세",
        "네",
        "열",
        "스무",
        "스물다섯",
        "아흔아홉",
    ]
    assert native_number(100) is None


@pytest.mark.parametrize(
    ("word", "reading"),
    [
        ("API", "에이피아이"),
        ("Redis", "레디스"),
        ("AWS", "에이더블유에스"),
        ("S3", "에스삼"),
        ("C++", "씨플플"),
        ("Kubernetes", "쿠버네티스"),
        ("APIs", "에이피아이"),
    ],
)
def test_latin_readings(word: str, reading: str) -> None:
    assert read_latin(word) == reading


def test_unknown_long_words_have_no_reading() -> None:
    assert read_latin("Northwind") is None


# The examples first: 개발 and 최적화, then Latin, digit and unit endings.
@pytest.mark.parametrize(
    ("term", "quote", "and_", "object_", "topic", "subject"),
    [
        ("개발", "이라고", "과", "을", "은", "이"),
        ("최적화", "라고", "와", "를", "는", "가"),
        ("Spring Boot를 활용한 REST API 개발", "이라고", "과", "을", "은", "이"),
        ("응답 속도 30% 개선", "이라고", "과", "을", "은", "이"),
        ("API", "라고", "와", "를", "는", "가"),
        ("30%", "라고", "와", "를", "는", "가"),
        ("Redis", "라고", "와", "를", "는", "가"),
        ("Spring Boot", "라고", "와", "를", "는", "가"),
        ("Python", "이라고", "과", "을", "은", "이"),
        ("Go", "라고", "와", "를", "는", "가"),
        ("30", "이라고", "과", "을", "은", "이"),  # 삼십
        ("2019", "라고", "와", "를", "는", "가"),  # 이천십구
        ("20ms", "라고", "와", "를", "는", "가"),  # 밀리초
        ("HTML", "이라고", "과", "을", "은", "이"),  # 엘
        ("Oracle", "이라고", "과", "을", "은", "이"),  # 오라클
        ("Snort", "라고", "와", "를", "는", "가"),  # 스노트
        ("지속적 통합(CI)", "이라고", "과", "을", "은", "이"),  # the word before the bracket
        ("“개발”", "이라고", "과", "을", "은", "이"),  # closing quotes are skipped
    ],
)
def test_particles(term: str, quote: str, and_: str, object_: str, topic: str, subject: str) -> None:
    assert [josa(term, p) for p in ("이라고/라고", "과/와", "을/를", "은/는", "이/가")] == [
        quote,
        and_,
        object_,
        topic,
        subject,
    ]


def test_ro_treats_rieul_as_a_vowel() -> None:
    assert attach("서울", "으로/로") == "서울로"
    assert attach("Python", "으로/로") == "Python으로"
    assert attach("Java", "으로/로") == "Java로"
    assert attach("HTML", "으로/로") == "HTML로"


def test_unreadable_term_keeps_both_forms() -> None:
    assert final_consonant("…") is None
    assert josa("…", "이라고/라고") == "(이)라고"
    assert josa("…", "을/를") == "을(를)"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("응답 속도 30% 개선", "응답 속도 삼십 퍼센트 개선"),
        ("REST API 개발", "레스트 에이피아이 개발"),
        ("2019년에 입사", "이천십구년에 입사"),
        ("6월과 10월", "유월과 시월"),
        ("팀원 3명과 2배", "팀원 세 명과 두 배"),
        ("초당 1,500건", "초당 천오백 건"),
        ("p99 20ms", "피구십구 이십 밀리초"),
        ("10k 사용자", "만 사용자"),
        ("2023.07 입사", "이천이십삼년 칠월 입사"),
        ("Spring Boot와 Redis로", "스프링 부트와 레디스로"),
        ("3.5배", "삼 점 오 배"),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken
