"""Resume text -> sections -> overlapping chunks, for retrieval while planning questions.

Deterministic and model-free: headings are recognised from a fixed English/Korean vocabulary
(whole lines only, so "경력 한국인터넷진흥원 — 인턴" is content, not a heading).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.errors import InvalidInputError

SECTIONS = ("summary", "experience", "projects", "education", "skills", "certifications", "awards", "other")

# "|"-separated phrases per canonical section; matched against a whole line, case- and space-blind.
_HEADINGS: dict[str, str] = {
    "summary": "summary|professional summary|career summary|executive summary|profile|professional profile"
    "|personal profile|objective|career objective|about|about me|overview|personal statement|introduction"
    "|자기소개|자기소개서|요약|소개|개요|프로필|경력요약|커리어요약",
    "experience": "experience|work experience|professional experience|relevant experience|employment"
    "|employment history|work history|career|career history|internships|internship|internship experience"
    "|경력|경력사항|업무경력|업무경험|직무경험|근무경력|근무경험|주요경력|경력기술|경력기술서|경험|인턴십|인턴경험",
    "projects": "projects|project|personal projects|key projects|selected projects|academic projects"
    "|side projects|project experience|open source"
    "|프로젝트|프로젝트경험|프로젝트경력|주요프로젝트|개인프로젝트|수행프로젝트",
    "education": "education|academic background|education & training|education and training"
    "|academic qualifications|학력|학력사항|교육|교육사항|교육이수|교육이수내역",
    "skills": "skills|technical skills|core skills|key skills|skills & tools|skills and tools|tech stack"
    "|technology stack|technologies|tools|tools & technologies|competencies|core competencies"
    "|skills & abilities|skills and abilities|skill set|skillset|skills & expertise"
    "|기술|보유기술|기술스택|스킬|핵심역량|역량|보유역량|기술역량|사용기술|활용기술|기술및역량",
    "certifications": "certifications|certification|certificates|licenses|licenses & certifications"
    "|licenses and certifications|certifications & licenses"
    "|자격증|자격사항|자격|보유자격증|자격증및면허|면허및자격증",
    "awards": "awards|honors|honours|honors & awards|awards & honors|awards and honors|achievements"
    "|awards & achievements|수상|수상경력|수상내역|수상이력|수상실적",
    "other": "publications|papers|patents|languages|language skills|interests|hobbies|volunteer"
    "|volunteering|volunteer experience|activities|extracurricular activities|leadership|references"
    "|additional information|courses|training"
    "|논문|출판|특허|언어|언어능력|어학|어학능력|외국어|대외활동|봉사활동|활동|취미|특기|취미및특기|기타|병역"
    "|병역사항|교육및활동",
}
# Keys are lower-cased with all whitespace removed, so "경력 사항" and "Work  Experience" match.
_HEADING_KEYS: dict[str, str] = {
    re.sub(r"\s+", "", phrase): section
    for section, phrases in _HEADINGS.items()
    for phrase in phrases.split("|")
}
_DECORATION = " \t#*=_-–—:：|•·▪●◦■□▶►▸◆◇★☆【】[]<>《》「」()"
_NUMBERING = re.compile(r"^(?:\d{1,2}|[IVX]{1,4}|[가-하])[.)]\s*")
_MAX_HEADING_CHARS = 40


def heading_section(line: str) -> str | None:
    """The canonical section a whole-line heading names, or None when the line is not a heading."""
    stripped = line.strip()
    if not stripped or len(stripped) > _MAX_HEADING_CHARS:
        return None
    core = _NUMBERING.sub("", stripped.strip(_DECORATION)).strip(_DECORATION)
    return _HEADING_KEYS.get(re.sub(r"\s+", "", core.lower()))


def _inline_heading(line: str) -> tuple[str, str, str] | None:
    """(section, label, content) for "Skills: Python, Go"-style lines."""
    match = re.match(r"^([^:：]{2,40})[:：]\s*(\S.*)$", line.strip())
    if match is None:
        return None
    section = heading_section(match.group(1))
    content = match.group(2)
    if section == "skills" or (
        # A one-line summary is prose; "Profile: linkedin.com/in/x" is a contact line.
        section == "summary" and len(content.split()) >= 5 and not re.search(r"@|https?:|www\.", content)
    ):
        return section, match.group(1).strip(), content
    return None


def _split_with_titles(text: str) -> list[tuple[str, str, str]]:
    """(canonical section, heading as written, body) in document order; empty bodies dropped."""
    parts: list[tuple[str, str, list[str]]] = [("header", "", [])]
    for line in text.splitlines():
        section = heading_section(line)
        if section is not None:
            parts.append((section, line.strip(), []))
            continue
        inline = _inline_heading(line) if parts[-1][0] == "header" else None
        if inline is not None:
            # A one-line section inside the header; the lines after it are still header.
            parts.append((inline[0], inline[1], [inline[2]]))
            parts.append(("header", "", []))
            continue
        parts[-1][2].append(line)
    result: list[tuple[str, str, str]] = []
    for section, title, lines in parts:
        body = "\n".join(lines).strip()
        if body:
            result.append((section, title, body))
    return result


def split_sections(text: str) -> list[tuple[str, str]]:
    """(section, body) pairs in document order; text before the first heading is "header".

    A section name may repeat (two experience headings, or header text around an inline
    "Skills: ..." line); sections with no body are left out.
    """
    return [(section, body) for section, _title, body in _split_with_titles(text)]


@dataclass(frozen=True)
class Chunk:
    ord: int
    section: str
    text: str


_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")


def _units(body: str, max_chars: int) -> list[tuple[str, str]]:
    """(separator before, text) pieces no longer than max_chars: lines, else sentences, else words."""
    units: list[tuple[str, str]] = []
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        pieces = [line] if len(line) <= max_chars else _SENTENCE_END.split(line)
        for i, piece in enumerate(pieces):
            for j, part in enumerate(_hard_split(piece, max_chars)):
                units.append(("\n" if i == 0 and j == 0 else " ", part))
    return units


def _hard_split(text: str, max_chars: int) -> list[str]:
    parts: list[str] = []
    while len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            cut = max_chars
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        parts.append(text)
    return [p for p in parts if p]


def _join(units: list[tuple[str, str]]) -> str:
    return "".join((sep if i else "") + text for i, (sep, text) in enumerate(units))


def _tail_overlap(units: list[tuple[str, str]], overlap_chars: int) -> list[tuple[str, str]]:
    """Trailing whole units that fit in overlap_chars; else the last unit's tail from a word start."""
    if overlap_chars <= 0 or not units:
        return []
    kept: list[tuple[str, str]] = []
    for unit in reversed(units):
        if len(_join([unit, *kept])) > overlap_chars:
            break
        kept.insert(0, unit)
    if kept:
        return kept
    sep, last = units[-1]
    space = last.find(" ", len(last) - overlap_chars)
    tail = last[space + 1 :] if space >= 0 else ""
    return [(sep, tail)] if tail else []


def chunk_resume(text: str, *, max_chars: int = 600, overlap_chars: int = 80) -> list[Chunk]:
    """Per-section chunks of whole lines/sentences up to max_chars, each repeating a little of the last."""
    if max_chars < 1:
        raise InvalidInputError(f"max_chars must be positive, got {max_chars}")
    if not 0 <= overlap_chars < max_chars:
        raise InvalidInputError(f"overlap_chars must be in [0, {max_chars}), got {overlap_chars}")
    chunks: list[Chunk] = []
    for section, title, body in _split_with_titles(text):
        # "other" covers Languages, Publications, 병역...: keep which one it was in the text.
        prefix = f"{title}\n" if section == "other" and title else ""
        if len(prefix) > max_chars // 2:
            prefix = ""
        units = _units(body, max_chars - len(prefix))
        current: list[tuple[str, str]] = []
        fresh = False  # whether current holds anything beyond the overlap carried over
        for unit in units:
            if current and len(prefix + _join([*current, unit])) > max_chars:
                if fresh:
                    chunks.append(Chunk(len(chunks), section, prefix + _join(current)))
                    current = _tail_overlap(current, overlap_chars)
                    fresh = False
                if current and len(prefix + _join([*current, unit])) > max_chars:
                    current = []
            current.append(unit)
            fresh = True
        if current and fresh:
            chunks.append(Chunk(len(chunks), section, prefix + _join(current)))
    return chunks
