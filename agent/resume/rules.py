"""Deterministic resume header: contact details, name, target role, experience, skills.

Rules, not a model: they run on every upload, cost nothing, and give the planner facts it can
trust (or None where nothing credible was found, rather than a guess).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.resume.chunking import heading_section, split_sections


@dataclass(frozen=True)
class RuleHeader:
    name: str | None
    email: str | None
    phone: str | None
    target_role: str | None
    years_experience: float | None
    skills: tuple[str, ...]
    links: tuple[str, ...]


_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b", re.ASCII)
# "010-1234-5678", "(+82) 10-5544-2211", "+1 (555) 123-4567", "02-123-4567", "(123) 456-7890".
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?|\(\+?\d{1,3}\)[ ]?)?(?:\(\d{2,4}\)|\d{2,4})[ .-]?\d{3,4}[ .-]?\d{4}(?!\d)"
)
_URL = re.compile(
    r"\bhttps?://[^\s<>\"'|]+|\b(?:www\.|(?:linkedin\.com|github\.com|gitlab\.com|behance\.net)/)[^\s<>\"'|]+",
    re.IGNORECASE,
)


def _vocab(phrases: str, sep: str = " ") -> tuple[str, ...]:
    return tuple(p for p in phrases.split(sep) if p)


_PROFILE_HANDLE = re.compile(r"^(LinkedIn|GitHub|GitLab)\s*[:：]\s*@?([A-Za-z0-9][\w.-]{0,98})$", re.M | re.I)
# Words that make a line a job title rather than a name, a heading or an address.
_ROLE_WORDS_EN = _vocab(
    "engineer|developer|scientist|designer|manager|analyst|architect|consultant|administrator|researcher|"
    "programmer|specialist|lead|director|intern|technician|devops|sre|strategist|officer|product owner|"
    "tester|writer|marketer|accountant",
    "|",
)
_ROLE_WORDS_KO = _vocab(
    "엔지니어 개발자 디자이너 매니저 연구원 기획자 분석가 아키텍트 컨설턴트 관리자 운영자 담당자 전문가 "
    "마케터 프로그래머 데이터사이언티스트 인턴"
)
_ROLE_EN = re.compile(r"\b(?:" + "|".join(_ROLE_WORDS_EN) + r")s?\b", re.IGNORECASE)
_ROLE_KO = re.compile("|".join(_ROLE_WORDS_KO) + r"|\bP[MO]\b")
_ROLE_LABEL = re.compile(
    r"^\s*(?:target\s+(?:role|position)|desired\s+(?:role|position)|position(?:\s+applied(?:\s+for)?)?"
    r"|applying\s+for|job\s+title|role"
    # Korean forms label the role many ways: 지원 직무, 희망 직무, 지원 분야, 모집 부문, 직무 alone.
    r"|(?:지원|희망|모집|관심)\s*(?:직무|분야|직종|포지션|부문|업무)|직\s*무|포지션)"
    # "지원 직무 : 보안", "지원 포지션 - 백엔드"; a table row has only spaces ("지원 분야   보안 관제").
    r"\s*(?:[:：]|\s[-–—]\s|(?<=[가-힣])\s{2,}|\t)\s*(\S.{0,80})$",
    re.IGNORECASE,
)
# "Seeking a challenging role as a Front-End Developer where ..." -> "Front-End Developer".
_AS_A_ROLE = re.compile(
    r"\bas\s+an?\s+((?:[\w/+.#-]+\s+){0,4}?(?:" + "|".join(_ROLE_WORDS_EN) + r"))s?\b", re.IGNORECASE
)
_ROLE_WITH = re.compile(
    r"^(?:(?:an?|experienced|seasoned|senior|passionate|results-driven|motivated|dedicated)\s+)*"
    r"((?:[\w/+.#-]+\s+){0,3}?(?:" + "|".join(_ROLE_WORDS_EN) + r"))s?\s+with\b",
    re.IGNORECASE,
)

_SEGMENT_SEP = re.compile(r"\s*[|•·]\s*|\s+[/—–-]\s+|\t|\s{3,}")
_CREDENTIALS = re.compile(r",\s*(?:Ph\.?D|MBA|M\.?Sc?|B\.?Sc?|CPA|P\.?E|M\.?D|CFA|PMP)\.?$")
_NAME_LABEL = re.compile(
    r"^\s*(?:name|full\s+name|이\s*름|성\s*명|성\s*함|한글\s*(?:이름|성명))\s*(?:[:：]\s*|(?<=[가-힣])\s+(?=[가-힣]))(.+)$",
    re.IGNORECASE,
)
# Where a labelled value stops: the next field of a form row ("이름: 홍길동 | 연락처: 010-...",
# "성명 홍길동 생년월일 1990.01.01").
_FIELD_END = re.compile(
    r"\s*[|•·/\t]\s*|\s{2,}|\s+(?=[가-힣A-Za-z ]{1,12}\s*[:：])"
    r"|\s+(?=생년월일|연락처|전화|휴대폰|이메일|주소|나이)"
)
_NAME_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "del", "la", "le", "bin", "al"})
_NAME_KO = re.compile(r"^[가-힣](?: ?[가-힣]){1,3}$")
_NOT_NAMES = frozenset(
    _vocab(
        "resume résumé curriculum vitae cv contact portfolio address email phone usa inc ltd llc corp "
        "university college street personal information details page "
        "이력서 자기소개서 입사지원서 지원서 경력기술서 포트폴리오 안녕하세요"
    )
)

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        )
    )
    for m in names.split()
}
_DATE = (
    r"(?:(?P<{p}mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?\s+(?P<{p}y1>(?:19|20)\d\d)"
    r"|(?P<{p}m2>0?[1-9]|1[0-2])\s*/\s*(?P<{p}y2>(?:19|20)\d\d)"
    r"|(?P<{p}y3>(?:19|20)\d\d)\s*(?:년\s*(?:(?P<{p}m3>1[0-2]|0?[1-9])\s*월)?"
    r"|[./]\s*(?P<{p}m4>1[0-2]|0[1-9]|[1-9](?!\d))|-(?P<{p}m5>1[0-2]|0[1-9])(?!\d))?)"
)
_PRESENT = r"(?P<present>present|current|now|today|ongoing|date|현재|재직\s*중|근무\s*중|진행\s*중)"
_RANGE = re.compile(
    r"(?<!\d)"
    + _DATE.format(p="s")
    + r"\s*(?:-|–|—|~|〜|to|until|→)\s*(?:"
    + _DATE.format(p="e")
    + "|"
    + _PRESENT
    + r")(?!\d)",
    re.IGNORECASE,
)
_EXPLICIT_YEARS = (
    re.compile(
        r"(\d{1,2}(?:\.\d)?)\s*\+?\s*(?:years?|yrs?)['’]?\s+(?:of\s+)?(?:[\w-]+\s+){0,3}?experience",
        re.IGNORECASE,
    ),
    re.compile(r"(?:over|more\s+than)\s+(\d{1,2})\s+years", re.IGNORECASE),
    re.compile(r"(\d{1,2})\s*년\s*(?:이상의?\s*|간의?\s*|의\s*)?(?:실무\s*|업무\s*|개발\s*|현업\s*)?경력"),
    re.compile(r"경력\s*[:：]?\s*(?:약\s*|총\s*)?(\d{1,2})\s*년"),
    # "5년간 결제 시스템을 개발한", "7년차 백엔드 개발자": only with a work verb or a role word, so
    # a cover letter's "입사 후 3년 내에는" (plans) does not count.
    re.compile(
        r"(\d{1,2})\s*년\s*(?:간|동안)\s*(?:\S+\s+){0,3}?\S*(?:개발|근무|재직|종사|운영|담당|일)"
        # Past tense or a bare noun ("6년간 근무,"); "3년간 개발하겠습니다" is a plan.
        r"(?:했|한|하였|해\s*왔|해\s*온|(?=[\s,.)]|$))"
    ),
    re.compile(r"(\d{1,2})\s*년\s*차\s*(?:\S+\s+){0,2}?\S*(?:" + "|".join(_ROLE_WORDS_KO) + ")"),
)
_SKILL_BULLETS = "•·▪●◦■□▶►▸◆◇★☆*-–—"
_SKILL_LABEL = re.compile(r"^([^,:：()]{2,30})[:：]\s*(?=\S)")
_MAX_SKILLS = 40
_MAX_LINKS = 20
_MAX_SKILL_CHARS = 40


def extract_header_rules(
    text: str, sections: list[tuple[str, str]] | None = None, *, today_year: int = 2026
) -> RuleHeader:
    """Contact details, name, role, years and skills found by rules; None/empty where absent."""
    if sections is None:
        sections = split_sections(text)
    header = "\n".join(body for name, body in sections if name == "header")
    if not header:
        header = "\n".join(text.splitlines()[:15])
    summary = "\n".join(body for name, body in sections if name == "summary")
    experience = "\n".join(body for name, body in sections if name == "experience")
    skills_text = "\n".join(body for name, body in sections if name == "skills")
    email = _first(_EMAIL, header) or _first(_EMAIL, text)
    name, after_name = _find_name(header)
    return RuleHeader(
        name=name,
        email=email,
        phone=_find_phone(header) or _find_phone(text),
        target_role=_find_role(header, summary, after_name),
        years_experience=_explicit_years(header + "\n" + summary)
        or _years_from_ranges(experience, today_year),
        skills=_skills(skills_text),
        links=_links(text),
    )


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0) if match else None


def _find_phone(text: str) -> str | None:
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 9 <= len(digits) <= 15:
            return match.group(0).strip()
    return None


def _links(text: str) -> tuple[str, ...]:
    urls = [match.group(0).rstrip(".,;:)]}>") for match in _URL.finditer(text)]
    # "LinkedIn: bwayne" is what an icon-font contact line becomes once extraction labels the icon.
    for match in _PROFILE_HANDLE.finditer(text):
        site, handle = match.group(1).lower(), match.group(2)
        urls.append(
            f"https://www.linkedin.com/in/{handle}" if site == "linkedin" else f"https://{site}.com/{handle}"
        )
    seen: dict[str, str] = {}
    for url in urls:
        key = re.sub(r"^https?://(?:www\.)?", "", url.lower()).rstrip("/")
        seen.setdefault(key, url)
    return tuple(list(seen.values())[:_MAX_LINKS])


def _is_contact_or_heading(line: str) -> bool:
    return bool(
        _EMAIL.search(line) or _URL.search(line) or _find_phone(line) or heading_section(line) is not None
    )


def _is_name_word(word: str) -> bool:
    """Capitalised letters only, no digits or commas: Barry, JANE, O'Neil, José, J."""
    if re.fullmatch(r"[A-Z]\.", word):
        return True
    core = re.sub(r"[-'’]", "", word)
    return core.isalpha() and word[0].isupper() and (len(core) > 1)


def _name_from_line(line: str) -> str | None:
    line = re.sub(r"\s*[(\[].*?[)\]]\s*$", "", line.strip())  # "홍길동 (Hong Gildong)"
    line = _CREDENTIALS.sub("", line)  # "Jane Park, PhD"
    if not line or _is_contact_or_heading(line) or _ROLE_EN.search(line) or _ROLE_KO.search(line):
        return None
    if _NAME_KO.match(line):
        return None if line.replace(" ", "") in _NOT_NAMES else line
    words = line.split()
    if not 2 <= len(words) <= 4 or any(w.lower().strip(".,") in _NOT_NAMES for w in words):
        return None
    if not _is_name_word(words[0]) or words[0].endswith(".") or words[0] in _NAME_PARTICLES:
        return None
    if not all(_is_name_word(w) or w in _NAME_PARTICLES for w in words):
        return None
    # Upper-case names are a layout choice; the interviewer says the name aloud.
    return line.title() if line.isupper() else line


def _spaced_korean_name(value: str) -> str | None:
    """ "김 철 수" (a form that spaces out each syllable) as "김철수"."""
    joined = value.replace(" ", "")
    if " " in value and re.fullmatch(r"[가-힣]{2,4}", joined) and joined not in _NOT_NAMES:
        return joined
    return None


def _find_name(header: str) -> tuple[str | None, list[str]]:
    """(name, what follows it: the rest of its line, then the next line) from the header."""
    lines = [line.strip() for line in header.splitlines() if line.strip()]
    for index, line in enumerate(lines[:10]):
        labelled = _NAME_LABEL.match(line)
        if labelled:
            value = _FIELD_END.split(labelled.group(1).strip(), maxsplit=1)[0].strip()
            name = _spaced_korean_name(value) or _name_from_line(value)
            if name:
                return name, lines[index + 1 : index + 2]
    for index, line in enumerate(lines[:6]):
        # "홍길동 | 백엔드 개발자" or "Jane Park — Data Engineer": the name is the first segment.
        segments = [seg for seg in _SEGMENT_SEP.split(line) if seg]
        for candidate, rest in ((line, []), (segments[0], segments[1:])):
            name = _name_from_line(candidate)
            if name:
                return name, [*rest, *lines[index + 1 : index + 2]]
    return None, []


def _clean_role(role: str) -> str | None:
    role = re.sub(r"\s+", " ", role).strip(" .,;:-–—|")
    if not role or len(role) > 60 or _EMAIL.search(role) or re.search(r"\d{3}", role):
        return None
    return role


def _find_role(header: str, summary: str, after_name: list[str]) -> str | None:
    lines = [line.strip() for line in header.splitlines() if line.strip()]
    for line in [*lines, *summary.splitlines()[:5]]:
        labelled = _ROLE_LABEL.match(line)
        if labelled:
            role = _clean_role(labelled.group(1).split("|")[0])
            if role:
                return role
    # A title right after the name ("Front-End Developer", "Data Scientist | jane@x.com | NY").
    for part in after_name:
        for segment in _SEGMENT_SEP.split(part):
            if (_ROLE_EN.search(segment) or _ROLE_KO.search(segment)) and not _is_contact_or_heading(segment):
                role = _clean_role(segment)
                if role and len(role.split()) <= 6:
                    return role
    flat = re.sub(r"\s+", " ", summary)
    for pattern in (_AS_A_ROLE, _ROLE_WITH):
        match = pattern.search(flat)
        if match:
            role = _clean_role(match.group(1))
            if role:
                return role[0].upper() + role[1:]
    return None


def _explicit_years(text: str) -> float | None:
    flat = re.sub(r"\s+", " ", text)
    values = [float(m.group(1)) for pattern in _EXPLICIT_YEARS for m in pattern.finditer(flat)]
    values = [v for v in values if 0 < v <= 60]
    return max(values) if values else None


def _month_index(match: re.Match[str], p: str, today_year: int) -> tuple[int, bool] | None:
    """(months since year 0, whether the month was given) for one end of a range."""
    groups = match.groupdict()
    if p == "e" and groups.get("present"):
        return today_year * 12, False
    if groups[f"{p}mon"]:
        return int(groups[f"{p}y1"]) * 12 + _MONTHS[groups[f"{p}mon"].lower()] - 1, True
    if groups[f"{p}y2"]:
        return int(groups[f"{p}y2"]) * 12 + int(groups[f"{p}m2"]) - 1, True
    if groups[f"{p}y3"]:
        month = groups[f"{p}m3"] or groups[f"{p}m4"] or groups[f"{p}m5"]
        return int(groups[f"{p}y3"]) * 12 + (int(month) - 1 if month else 0), bool(month)
    return None


def _years_from_ranges(experience: str, today_year: int) -> float | None:
    """Years covered by the union of date ranges in the experience sections."""
    intervals: list[tuple[int, int]] = []
    for match in _RANGE.finditer(experience):
        start, end = _month_index(match, "s", today_year), _month_index(match, "e", today_year)
        if start is None or end is None:
            continue
        (s, s_month), (e, e_month) = start, end
        if match.group("present") and s_month:
            # "June 2022 - Present" with only a year for today: count whole years from the start month.
            e += s % 12
        elif s_month and e_month:
            e += 1  # "2023.07 - 2023.08" is two months of work
        if s <= e <= today_year * 12 + 12 and e - s <= 50 * 12:
            intervals.append((s, e))
    if not intervals:
        return None
    total, reach = 0, -1
    for s, e in sorted(intervals):
        if e > reach:
            total += e - max(s, reach)
            reach = e
    return round(total / 12, 1)


def _split_outside_parens(text: str, separators: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if depth <= 0 and ch in separators:
            parts.append("".join(current))
            current = []
            depth = 0
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _skill_lines(body: str) -> list[str]:
    """Lines of the skills sections, re-joining comma lists that a PDF wrapped mid-item.

    A wrapped line is a comma list running (nearly) the full width of the block and ending without
    a separator: "..., Google Cloud" + "Platform, Firebase, ...". Short lines are deliberate breaks.
    """
    raw_lines = [line.strip() for line in body.splitlines() if line.strip()]
    full_width = 0.8 * max((len(line) for line in raw_lines), default=0)
    lines: list[str] = []
    previous = ""
    for line in raw_lines:
        starts_fresh = line[0] in _SKILL_BULLETS or _SKILL_LABEL.match(line)
        wrapped = (
            "," in previous
            and previous[-1] not in ",;|/." + _SKILL_BULLETS
            and len(previous) >= max(full_width, 40)
        )
        if lines and wrapped and not starts_fresh:
            lines[-1] += " " + line
        else:
            lines.append(line)
        previous = line
    return lines


def _skills(body: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for line in _skill_lines(body):
        line = _SKILL_LABEL.sub("", line.lstrip(_SKILL_BULLETS + " "))
        for item in _split_outside_parens(line, ",;|•·▪●◦■、，"):
            for piece in _split_slashes(item):
                # Trailing dots only: ".NET" keeps its leading one.
                skill = piece.strip(" \t:" + _SKILL_BULLETS).rstrip(".").strip()
                if (
                    not skill
                    or len(skill) > _MAX_SKILL_CHARS
                    or skill.casefold() in {"etc", "and more", "등", "외"}
                    or not re.search(r"[^\W\d_]", skill)
                ):
                    continue
                found.setdefault(skill.casefold(), skill)
                if len(found) == _MAX_SKILLS:
                    return tuple(found.values())
    return tuple(found.values())


def _split_slashes(item: str) -> list[str]:
    # "Python/Django" is two skills; "CI/CD", "UI/UX", "A/B testing", "PL/SQL" are one each.
    pieces: list[str] = []
    for token in item.split("/"):
        if pieces and re.search(r"\b[A-Z&]{1,3}$", pieces[-1]) and re.match(r"(?:[A-Z&]{1,3}|SQL)\b", token):
            pieces[-1] += "/" + token
        else:
            pieces.append(token)
    return pieces
