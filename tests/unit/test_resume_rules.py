"""Rule-based header extraction: contacts, name, role, years, skills; and on real resumes."""

from __future__ import annotations

import pytest

from agent.resume.extract import ExtractLimits, extract_text
from agent.resume.rules import RuleHeader, extract_header_rules
from tests.fixtures_paths import shared_fixture


def rules(text: str, today_year: int = 2026) -> RuleHeader:
    return extract_header_rules(text, today_year=today_year)


# --- contacts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "010-1234-5678",
        "010.1234.5678",
        "010 1234 5678",
        "01012345678",
        "+82 10-1234-5678",
        "+82-10-1234-5678",
        "(+82) 10-5544-2211",
        "02-123-4567",
        "031-123-4567",
        "+1 (555) 123-4567",
        "(123) 456-7890",
        "+1 415 555 0100",
    ],
)
def test_phone_formats(phone: str) -> None:
    assert rules(f"Kim\n연락처: {phone}\n").phone == phone


def test_dates_and_numbers_are_not_phones() -> None:
    text = "Experience\n2016.03 - 2019.02\n2018 - 2022\n10M+ requests/day, 2,000 TPS\n231, 13486"
    assert rules(text).phone is None


def test_email_and_links() -> None:
    text = (
        "Jane Park\njane_park.dev+jobs@mail.example.co.kr | https://janepark.dev/.\n"
        "github.com/janepark, www.linkedin.com/in/janepark (LinkedIn)\nhttps://janepark.dev/"
    )
    header = rules(text)
    assert header.email == "jane_park.dev+jobs@mail.example.co.kr"
    assert header.links == ("https://janepark.dev/", "github.com/janepark", "www.linkedin.com/in/janepark")


def test_icon_labelled_profile_handles_become_links() -> None:
    header = rules("Barry Allen\nLinkedIn: bwayne\nGitHub: bwayne\n")
    assert header.links == ("https://www.linkedin.com/in/bwayne", "https://github.com/bwayne")


def test_nothing_found_is_none_or_empty() -> None:
    assert rules("lorem ipsum dolor sit amet") == RuleHeader(None, None, None, None, None, (), ())


# --- name -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Barry Allen\nFront-End Developer\n", "Barry Allen"),
        ("JANE SMITH\nData Scientist | jane@x.com\n", "Jane Smith"),
        ("Mary-Jane O'Neil\n", "Mary-Jane O'Neil"),
        ("José María García\n", "José María García"),
        ("Ludwig van Beethoven\n", "Ludwig van Beethoven"),
        ("최민수\n백엔드 개발자\n", "최민수"),
        ("홍 길동\n", "홍 길동"),
        ("남궁민수\n", "남궁민수"),
        ("홍길동 (Hong Gildong)\n", "홍길동"),
        ("이력서\n성명: 김지은\n", "김지은"),
        ("이력서\n이름: 홍길동\n지원 직무: 백엔드 개발자\n", "홍길동"),
        ("이름 : 홍길동 (洪吉童)\n", "홍길동"),
        # A form row: the value stops at the next field.
        ("인적사항\n이름: 홍길동 | 연락처: 010-1234-5678 | 이메일: hong@example.com\n", "홍길동"),
        ("입사지원서\n성명 홍길동 생년월일 1990.01.01\n", "홍길동"),
        ("성 명 : 김 철 수\n", "김철수"),
        ("성함: 이영희\n", "이영희"),
        ("Name: 홍길동\n", "홍길동"),
        ("Curriculum Vitae\nName: Sam Rivera\n", "Sam Rivera"),
        ("RESUME\n\nSam Rivera\n", "Sam Rivera"),
        ("jane@example.com | 010-1234-5678\nJane Park\n", "Jane Park"),
        ("Jane Park, PhD\n", "Jane Park"),
        ("김지은 | 백엔드 개발자\n", "김지은"),
    ],
)
def test_name(text: str, name: str) -> None:
    assert rules(text).name == name


@pytest.mark.parametrize(
    "text",
    [
        "Software Engineer\nSummary\nBuilt things.",
        "Summary\nJane Park is an engineer.",  # not in the header
        "경기도 성남시 분당구 판교역로\n",
        "Google HQ, Mountain View, CA\n",
        "이력서\n",
        "jane@example.com\n",
        "Experienced Backend Engineer At Scale\n",
        "이름: 010-1234-5678\n",  # a label with no name after it is no name
    ],
)
def test_no_credible_name(text: str) -> None:
    assert rules(text).name is None


# --- target role ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Jane Park\nTarget role: Staff Backend Engineer\n", "Staff Backend Engineer"),
        ("Jane Park\nPosition: Data Engineer | Remote\n", "Data Engineer"),
        ("Jane Park\nDesired position: QA Lead\n", "QA Lead"),
        ("김지은\n지원 직무 : 보안엔지니어\n", "보안엔지니어"),
        ("김지은\n희망 직무: 백엔드 개발\n", "백엔드 개발"),
        ("이름: 홍길동\n지원 분야: 보안 관제\n", "보안 관제"),
        ("홍길동\n희망직무 : 프론트엔드 개발\n", "프론트엔드 개발"),
        ("홍길동\n지원부문: 서버 개발\n", "서버 개발"),
        ("홍길동\n모집 분야: 데이터 분석\n", "데이터 분석"),
        ("홍길동\n지원 포지션 - 백엔드\n", "백엔드"),
        ("홍길동\n직무: 백엔드 개발자\n", "백엔드 개발자"),
        ("입사지원서\n성명  홍길동\n지원 분야   보안 관제\n", "보안 관제"),
        ("Barry Allen\nFront-End Developer\nGoogle HQ\n", "Front-End Developer"),
        ("JANE SMITH\nData Scientist | jane@x.com | New York, NY\n", "Data Scientist"),
        ("김지은\n백엔드 개발자\njieun@example.com\n", "백엔드 개발자"),
        ("김지은 | 백엔드 개발자 | jieun@example.com\n", "백엔드 개발자"),
        ("Jane Park — Data Engineer\n", "Data Engineer"),
        (
            "Barry Allen\nbarry@x.com\n\nObjective\n"
            "Seeking a challenging role as a Front-End Developer where I can grow.",
            "Front-End Developer",
        ),
        (
            "Sam Rivera\n\nObjective: to work as an embedded software engineer in robotics.",
            "Embedded software engineer",
        ),
        (
            "Sam Rivera\n\nSummary\nMachine Learning Engineer with 5 years of experience.",
            "Machine Learning Engineer",
        ),
    ],
)
def test_target_role(text: str, role: str) -> None:
    assert rules(text).target_role == role


@pytest.mark.parametrize(
    "text",
    [
        "Sam Rivera\nsam.rivera@example.com\n\nExperience\nAcme Robotics (2019 - 2024)\n- Firmware in C.",
        "Sam Rivera\nGotham, USA\n\nSummary\nI like building things.",
        "",
    ],
)
def test_no_credible_role(text: str) -> None:
    assert rules(text).target_role is None


# --- years of experience ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("Summary\nEngineer with 5+ years of experience in Python.", 5.0),
        ("Summary\n10 years' experience leading teams.", 10.0),
        ("Summary\nOver 8 years building payment systems.", 8.0),
        ("Summary\nData scientist with 4 years of hands-on industry experience.", 4.0),
        ("요약\n7년 경력의 백엔드 개발자입니다.", 7.0),
        ("요약\n경력 3년 차 프론트엔드 엔지니어", 3.0),
        ("요약\n결제 시스템을 5년간 개발한 백엔드 개발자입니다.", 5.0),
        ("요약\n스타트업에서 4년 동안 일한 경험이 있습니다.", 4.0),
        ("요약\n삼성전자 6년간 근무, 이후 창업", 6.0),
        ("요약\n10년 이상의 실무 경력", 10.0),
    ],
)
def test_explicit_years(text: str, years: float) -> None:
    assert rules(text).years_experience == years


@pytest.mark.parametrize(
    ("experience", "years"),
    [
        ("Acme (2018 - Present)", 8.0),
        ("Acme | 2019 – 2021\nBeta | 2021 – 2024", 5.0),
        ("June 2022 –\nPresent\nSoftware Engineer", 4.0),
        ("Jan 2020 - Jun 2021", 1.5),
        ("03/2019 - 02/2021", 2.0),
        ("네이버 (2020.03 ~ 2023.02)", 3.0),
        ("카카오 2019년 3월 - 2021년 2월", 2.0),
        ("KISA 인턴\n2023 년 7 월 - 2023 년 8 월", 0.2),
        ("쿠팡 2021.01 - 현재", 5.0),
        # Overlapping jobs count once.
        ("A 2015 - 2020\nB 2018 - 2019\nC 2019 - 2021", 6.0),
    ],
)
def test_years_from_experience_ranges(experience: str, years: float) -> None:
    assert rules(f"Jane Park\n\nExperience\n{experience}\n", today_year=2026).years_experience == years


def test_present_follows_today_year() -> None:
    text = "Kim\n\nExperience\nAcme 2018 - Present"
    assert rules(text, today_year=2030).years_experience == 12.0


def test_explicit_years_win_over_ranges() -> None:
    text = "Kim\n\nSummary\n5+ years of experience.\n\nExperience\nA 2010 - Present"
    assert rules(text).years_experience == 5.0


def test_education_and_project_dates_do_not_count() -> None:
    text = "Kim\n\nEducation\n2014 - 2018 B.S.\n\nProjects\n2021 - Present side project"
    assert rules(text).years_experience is None


def test_plans_in_a_cover_letter_are_not_experience() -> None:
    text = (
        "김지은\n\n자기소개서\n입사 후 3 년 내에는 보안 전문가로 성장하겠습니다.\n"
        "이후 5년 동안 일본어를 공부하고, 3년간 신기술을 개발하겠습니다."
    )
    assert rules(text).years_experience is None


# --- skills -----------------------------------------------------------------------------------


def test_skills_split_dedupe_and_labels() -> None:
    text = (
        "Kim\n\nSkills\n"
        "Languages: Python, TypeScript | Go; python\n"
        "• Docker • Kubernetes\n"
        "- CI/CD, UI/UX, A/B testing, PL/SQL\n"
        "Python/Django/Flask, Python (pandas, numpy), .NET, etc.\n"
        "An item that is far too long to be a skill and is really a sentence\n"
    )
    assert rules(text).skills == (
        "Python",
        "TypeScript",
        "Go",
        "Docker",
        "Kubernetes",
        "CI/CD",
        "UI/UX",
        "A/B testing",
        "PL/SQL",
        "Django",
        "Flask",
        "Python (pandas, numpy)",
        ".NET",
    )


def test_skills_rejoin_items_a_pdf_wrapped() -> None:
    text = (
        "Kim\n\nSkills\n"
        "JavaScript (ES6+), TypeScript, HTML5, CSS3, Python, React, Redux, Angular,\n"
        "Vue.js, Node.js, Express.js, D3.js, Git, Docker, Webpack, Babel, Google Cloud\n"
        "Platform, Firebase, RESTful APIs, GraphQL, Agile Development, Test-Driven\n"
        "Development, Responsive Design, UI/UX\n"
        "Short line, ends here\n"
        "Next line\n"
    )
    skills = rules(text).skills
    assert {"Google Cloud Platform", "Test-Driven Development", "Angular", "Vue.js"} <= set(skills)
    assert {"ends here", "Next line"} <= set(skills)
    assert not {"Google Cloud", "Platform", "Development"} & set(skills)


def test_korean_skills_section() -> None:
    assert rules("김지은\n\n보유 기술\nJava / Spring Boot / 리눅스 시스템 관리").skills == (
        "Java",
        "Spring Boot",
        "리눅스 시스템 관리",
    )


def test_skills_are_capped() -> None:
    many = ", ".join(f"Skill{i}" for i in range(100))
    assert len(rules(f"Kim\n\nSkills\n{many}").skills) == 40


def test_sections_may_be_passed_in() -> None:
    sections = [("header", "Jane Park\nBackend Engineer"), ("skills", "Go, Rust")]
    header = extract_header_rules("ignored for name and skills", sections)
    assert (header.name, header.target_role, header.skills) == (
        "Jane Park",
        "Backend Engineer",
        ("Go", "Rust"),
    )


# --- real resumes -----------------------------------------------------------------------------

REAL = [
    (
        "en_resumematcher_barry_allen_fe.pdf",
        "Barry Allen",
        "allthe.stars@google.com",
        "(123) 456-7890",
        "Front-End Developer",
        4.0,
        24,
        ("JavaScript (ES6+)", "Google Cloud Platform", "Test-Driven Development", "UI/UX"),
    ),
    (
        "en_resumematcher_harvey_dent_mle.pdf",
        "Harvey Dent",
        "hdent@email.com",
        "(123) 456-7891",
        "Machine Learning Engineer",
        5.0,
        16,
        ("Scikit-learn", "Natural Language Processing", "Kubernetes"),
    ),
    (
        "en_hrhelper_sample_resume_data_scientist.docx",
        "Jane Smith",
        "jane.smith@example.com",
        None,
        "Data Scientist",
        4.0,
        7,
        ("Python", "AWS SageMaker", "Spark"),
    ),
    (
        "en_hrhelper_sample_resume_software_engineer.txt",
        "John Doe",
        "john.doe@example.com",
        "+1 (555) 123-4567",
        "Software Engineer",
        5.0,
        17,
        ("Python", "FastAPI", "Kubernetes", "Elasticsearch"),
    ),
    (
        "ko_big20_security_engineer_choi.pdf",
        "최승우",
        "sw_choi.security@vmail.com",
        "(+82) 10-5544-2211",
        "보안엔지니어",
        0.2,  # a two-month internship, 2023.07 - 2023.08
        0,  # this resume has no skills section
        (),
    ),
]


@pytest.mark.parametrize(
    ("name", "person", "email", "phone", "role", "years", "n_skills", "some_skills"), REAL
)
def test_real_resume_headers(
    name: str,
    person: str,
    email: str,
    phone: str | None,
    role: str,
    years: float,
    n_skills: int,
    some_skills: tuple[str, ...],
) -> None:
    data = shared_fixture(f"resumes/{name}").read_bytes()
    header = extract_header_rules(extract_text(data, name, None, ExtractLimits()).text)
    assert (header.name, header.email, header.phone, header.target_role) == (person, email, phone, role)
    assert header.years_experience == years
    assert len(header.skills) == n_skills
    assert set(some_skills) <= set(header.skills)
    assert all(len(s) <= 40 for s in header.skills)


def test_real_resume_profile_links() -> None:
    data = shared_fixture("resumes/en_resumematcher_harvey_dent_mle.pdf").read_bytes()
    header = extract_header_rules(extract_text(data, "harvey.pdf", None, ExtractLimits()).text)
    # The PDF's own link annotations point at exactly these.
    assert header.links == ("https://www.linkedin.com/in/hdent", "https://github.com/hdent")
