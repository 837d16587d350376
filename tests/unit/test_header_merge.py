"""Rules first, the LLM only for gaps, and nothing the LLM says that the resume does not."""

from __future__ import annotations

from agent.errors import ModelTimeoutError
from agent.resume.chunking import split_sections
from agent.resume.header import extract_header
from agent.resume.ingest import choose_target_role
from agent.resume.schema import ResumeHeader
from tests.fakes import FakeLLM
from tests.resume_factory import EN_RESUME, EN_RESUME_NO_ROLE

THIN = """sam rivera
Worked at Acme Robotics on firmware in Rust for 7 years.
"""


async def test_rules_suffice_so_the_llm_is_not_asked_for_complete_headers() -> None:
    llm = FakeLLM({"name": "Someone Else", "target_role": "CEO", "years_experience": 40, "skills": []})
    header, sources = await extract_header(EN_RESUME, split_sections(EN_RESUME), llm)
    assert header.name == "Jane Park"
    assert header.target_role == "Backend Engineer"
    assert sources["name"] == "rules"
    assert llm.calls == []
    llm.close()


async def test_llm_fills_gaps_only_with_values_found_in_the_text() -> None:
    llm = FakeLLM(
        {
            "name": "Sam Rivera",
            "target_role": "Staff Firmware Architect",
            "years_experience": 7,
            "skills": ["Rust", "Quantum Computing"],
        }
    )
    header, sources = await extract_header(THIN, split_sections(THIN), llm)
    assert header.name == "Sam Rivera"
    assert sources["name"] == "llm"
    assert header.target_role is None  # invented: not in the resume
    assert header.years_experience == 7
    assert "Rust" in header.skills
    assert "Quantum Computing" not in header.skills
    llm.close()


async def test_a_section_heading_is_no_target_role() -> None:
    # SmolLM2 on a CPU without AVX-512 answered "Experience" for a resume that names no role: it is
    # in the text, but every resume has it.
    llm = FakeLLM({"name": None, "target_role": "Experience", "years_experience": None, "skills": []})
    header, sources = await extract_header(EN_RESUME_NO_ROLE, split_sections(EN_RESUME_NO_ROLE), llm)
    assert header.target_role is None
    assert "target_role" not in sources
    llm.close()


async def test_llm_failure_keeps_the_rule_header() -> None:
    llm = FakeLLM(fail_with=ModelTimeoutError("slow"))
    header, _ = await extract_header(EN_RESUME_NO_ROLE, split_sections(EN_RESUME_NO_ROLE), llm)
    assert header.email == "sam.rivera@example.com"
    llm.close()


async def test_llm_garbage_keeps_the_rule_header() -> None:
    llm = FakeLLM("not json at all")
    header, _ = await extract_header(EN_RESUME_NO_ROLE, split_sections(EN_RESUME_NO_ROLE), llm)
    assert header.email == "sam.rivera@example.com"
    llm.close()


def test_resume_role_is_the_source_of_truth() -> None:
    sources: dict[str, str] = {"target_role": "rules"}
    header, source = choose_target_role(ResumeHeader(target_role="Data Scientist"), sources, "Sales")  # type: ignore[arg-type]
    assert (header.target_role, source) == ("Data Scientist", "resume")
    header, source = choose_target_role(ResumeHeader(), {}, "  Sales Lead  ")
    assert (header.target_role, source) == ("Sales Lead", "client")
    header, source = choose_target_role(ResumeHeader(), {}, "   ")
    assert (header.target_role, source) == (None, "none")
