"""Sections and chunks: English and Korean headings, chunk sizes, overlap, determinism."""

from __future__ import annotations

import itertools
import re

import pytest

from agent.errors import InvalidInputError
from agent.resume.chunking import Chunk, chunk_resume, heading_section, split_sections
from agent.resume.extract import ExtractLimits, extract_text
from tests.fixtures_paths import shared_fixture

EN = """Jane Park
Backend Engineer
jane.park@example.com

PROFESSIONAL SUMMARY
Backend engineer with 6 years of experience.

Work Experience:
Senior Backend Engineer, Northwind (2021 - Present)
- Led the billing migration to Kubernetes.

## Projects
Search autocomplete in Go.

1. Education
B.S. Computer Science, 2018

Technical Skills
Python, Go, PostgreSQL

Licenses & Certifications
AWS Solutions Architect

Honors & Awards
Hackathon winner

Publications
A paper on ledgers.
"""

KO = """김지은
백엔드 개발자

자기소개
결제 시스템을 개발한 백엔드 개발자입니다.

경력 사항
경력 네이버페이 — 백엔드 개발자 (2020 - 현재)

【학력】
서울대학교 컴퓨터공학과

■ 보유 기술
Java, Kotlin, Spring

자격증
정보처리기사

수상 경력
교내 해커톤 대상

프로젝트
검색 자동완성 서비스

언어능력
TOEIC 900
"""


def test_english_headings_map_to_canonical_sections() -> None:
    sections = split_sections(EN)
    assert [name for name, _ in sections] == [
        "header",
        "summary",
        "experience",
        "projects",
        "education",
        "skills",
        "certifications",
        "awards",
        "other",
    ]
    assert sections[0][1] == "Jane Park\nBackend Engineer\njane.park@example.com"
    assert dict(sections)["skills"] == "Python, Go, PostgreSQL"


def test_korean_headings_map_to_canonical_sections() -> None:
    sections = split_sections(KO)
    assert [name for name, _ in sections] == [
        "header",
        "summary",
        "experience",
        "education",
        "skills",
        "certifications",
        "awards",
        "projects",
        "other",
    ]
    # A content line that merely starts with a heading word stays content.
    assert dict(sections)["experience"].startswith("경력 네이버페이")


@pytest.mark.parametrize(
    ("line", "section"),
    [
        ("Experience", "experience"),
        ("EMPLOYMENT HISTORY", "experience"),
        ("  Objective:  ", "summary"),
        ("Profile", "summary"),
        ("II. Skills", "skills"),
        ("- Tech Stack -", "skills"),
        ("경력사항", "experience"),
        ("[ 프로젝트 ]", "projects"),
        ("학력 사항", "education"),
        ("기술스택", "skills"),
        ("자기소개서", "summary"),
        ("요약", "summary"),
        ("Languages", "other"),
        ("Python", None),
        ("Experience with distributed systems and large-scale payment platforms", None),
        ("경력 한국인터넷진흥원(KISA), 서울 — 인턴", None),
        ("", None),
    ],
)
def test_heading_section(line: str, section: str | None) -> None:
    assert heading_section(line) == section


def test_inline_skills_in_the_header_is_its_own_section() -> None:
    text = "Sam Rivera\nSkills: C, Rust, CAN bus\nsam@example.com\nExperience\nAcme Robotics"
    assert split_sections(text) == [
        ("header", "Sam Rivera"),
        ("skills", "C, Rust, CAN bus"),
        ("header", "sam@example.com"),
        ("experience", "Acme Robotics"),
    ]


def test_sub_labels_inside_skills_stay_in_skills() -> None:
    text = "Skills\nLanguages: Python, Go\nTools: Docker"
    assert split_sections(text) == [("skills", "Languages: Python, Go\nTools: Docker")]


def test_no_headings_is_all_header_and_empty_sections_are_dropped() -> None:
    assert split_sections("Just a line\nand another") == [("header", "Just a line\nand another")]
    assert split_sections("Summary\nExperience\nDid things") == [("experience", "Did things")]
    assert split_sections("") == []


def _long_resume() -> str:
    sentences = " ".join(f"Sentence number {i} describes a project in some detail." for i in range(40))
    bullets = "\n".join(f"- Bullet {i}: shipped feature {i} to production" for i in range(30))
    return f"Jane Park\nEngineer\n\nSummary\n{sentences}\n\nExperience\n{bullets}\n\nSkills\nPython, Go"


@pytest.mark.parametrize(("max_chars", "overlap"), [(600, 80), (200, 40), (120, 0), (50, 20)])
def test_chunks_are_bounded_non_empty_and_ordered(max_chars: int, overlap: int) -> None:
    chunks = chunk_resume(_long_resume(), max_chars=max_chars, overlap_chars=overlap)
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    assert all(c.text.strip() and len(c.text) <= max_chars for c in chunks)
    assert {c.section for c in chunks} == {"header", "summary", "experience", "skills"}
    # Sections never mix, and they come in document order.
    order = [c.section for c in chunks]
    assert order == sorted(order, key=["header", "summary", "experience", "skills"].index)


def test_every_line_and_sentence_survives_chunking() -> None:
    text = _long_resume()
    joined = "\n".join(c.text for c in chunk_resume(text, max_chars=200, overlap_chars=40))
    for i in range(40):
        assert f"Sentence number {i} describes" in joined
    for i in range(30):
        assert f"- Bullet {i}: shipped feature {i} to production" in joined


def test_chunks_are_whole_lines_with_overlap() -> None:
    chunks = [
        c for c in chunk_resume(_long_resume(), max_chars=200, overlap_chars=80) if c.section == "experience"
    ]
    assert len(chunks) > 3
    for chunk in chunks:
        assert all(
            re.fullmatch(r"- Bullet \d+: shipped feature \d+ to production", line)
            for line in chunk.text.splitlines()
        )
    for before, after in itertools.pairwise(chunks):
        # The next chunk starts with the previous chunk's last line: context carries over.
        assert after.text.splitlines()[0] == before.text.splitlines()[-1]


def test_long_sentences_split_at_sentence_ends() -> None:
    chunks = chunk_resume(_long_resume(), max_chars=200, overlap_chars=0)
    summary = [c.text for c in chunks if c.section == "summary"]
    assert all(t.startswith("Sentence number") and t.endswith("detail.") for t in summary)


def test_unbreakable_text_is_hard_split() -> None:
    chunks = chunk_resume("Summary\n" + "x" * 250, max_chars=100, overlap_chars=10)
    assert [len(c.text) for c in chunks] == [100, 100, 50]


def test_other_sections_keep_their_heading() -> None:
    chunks = chunk_resume("Publications\nA paper on ledgers.\n\n언어능력\nTOEIC 900")
    assert chunks == [
        Chunk(0, "other", "Publications\nA paper on ledgers."),
        Chunk(1, "other", "언어능력\nTOEIC 900"),
    ]


def test_chunking_is_deterministic() -> None:
    assert chunk_resume(_long_resume(), max_chars=150) == chunk_resume(_long_resume(), max_chars=150)


def test_empty_text_has_no_chunks() -> None:
    assert chunk_resume("") == []
    assert chunk_resume("\n \n") == []


@pytest.mark.parametrize(("max_chars", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_invalid_chunk_parameters(max_chars: int, overlap: int) -> None:
    with pytest.raises(InvalidInputError):
        chunk_resume("text", max_chars=max_chars, overlap_chars=overlap)


REAL_SECTIONS = [
    (
        "en_resumematcher_barry_allen_fe.pdf",
        ["header", "summary", "education", "skills", "experience", "projects"],
    ),
    (
        "en_resumematcher_harvey_dent_mle.pdf",
        ["header", "summary", "skills", "experience", "education", "projects"],
    ),
    (
        "en_hrhelper_sample_resume_data_scientist.docx",
        ["header", "summary", "experience", "education", "skills"],
    ),
    (
        "en_hrhelper_sample_resume_software_engineer.txt",
        ["header", "summary", "experience", "education", "skills"],
    ),
    (
        "ko_big20_security_engineer_choi.pdf",
        ["header", "experience", "education", "projects", "awards", "certifications", "other", "summary"],
    ),
]


@pytest.mark.parametrize(("name", "expected"), REAL_SECTIONS)
def test_real_resume_sections_and_chunks(name: str, expected: list[str]) -> None:
    data = shared_fixture(f"resumes/{name}").read_bytes()
    text = extract_text(data, name, None, ExtractLimits()).text
    assert [section for section, _ in split_sections(text)] == expected
    chunks = chunk_resume(text)
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.text) <= 600 for c in chunks)
    assert {c.section for c in chunks} == set(expected)
