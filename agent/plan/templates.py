"""Deterministic questions filled from a retrieved resume fact: the fallback when the LLM's question
fails validation. Several phrasings per stage so a repeated stage does not repeat itself."""

from __future__ import annotations

import re
from collections.abc import Collection

from agent.plan.stages import Language, Stage

_TEMPLATES: dict[Language, dict[Stage, tuple[str, ...]]] = {
    "en": {
        Stage.INTRO: (
            "Your resume mentions “{fact}”. Could you introduce yourself and tell me what draws you to {role}?",
            "To begin, could you walk me through your background, starting from “{fact}”, and why {role}?",
        ),
        Stage.EXPERIENCE: (
            "Your resume mentions “{fact}”. What was your own role there, and what result are you most proud of?",
            "Tell me more about “{fact}”. What problem were you solving, and how did you measure success?",
            "Regarding “{fact}”, what was the hardest part, and what would you do differently today?",
        ),
        Stage.TECHNICAL: (
            "You list “{fact}”. Can you walk me through a technical decision you made there and its trade-offs?",
            "About “{fact}”: how did you design it, and what would break first if the load grew tenfold?",
            "Regarding “{fact}”, how did you test it and debug the most difficult issue you hit?",
        ),
        Stage.COLLABORATION: (
            "Thinking of “{fact}”, how did you work with your team, and how did you handle a disagreement?",
            "In “{fact}”, how did you communicate with stakeholders when priorities changed?",
        ),
        Stage.CLOSING: (
            "Looking at “{fact}”, where do you want to grow next, and what questions do you have for us?",
            "Building on “{fact}”, what do you hope to learn in your next role?",
        ),
    },
    "ko": {
        Stage.INTRO: (
            "이력서에 “{fact}”라고 적어 주셨는데요, 간단한 자기소개와 함께 {role} 직무에 지원하신 이유를 말씀해 주시겠어요?",
            "“{fact}”부터 시작해서 지금까지의 경력을 소개해 주시고, {role} 직무를 선택하신 이유는 무엇인가요?",
        ),
        Stage.EXPERIENCE: (
            "“{fact}” 경험에서 직접 맡으신 역할과 가장 자랑스러운 성과는 무엇이었나요?",
            "“{fact}”에 대해 더 말씀해 주세요. 어떤 문제를 해결하셨고 성과는 어떻게 측정하셨나요?",
            "“{fact}”에서 가장 어려웠던 점은 무엇이었고, 지금이라면 무엇을 다르게 하시겠어요?",
        ),
        Stage.TECHNICAL: (
            "“{fact}”와 관련해 내리신 기술적 결정 하나와 그때 고려한 트레이드오프를 설명해 주시겠어요?",
            "“{fact}”는 어떻게 설계하셨고, 부하가 열 배로 늘면 무엇이 먼저 문제가 될까요?",
            "“{fact}”는 어떻게 테스트하셨고, 가장 까다로웠던 문제는 어떻게 디버깅하셨나요?",
        ),
        Stage.COLLABORATION: (
            "“{fact}” 작업에서 팀과 어떻게 협업하셨고, 의견 충돌은 어떻게 해결하셨나요?",
            "“{fact}” 진행 중 우선순위가 바뀌었을 때 이해관계자와 어떻게 소통하셨나요?",
        ),
        Stage.CLOSING: (
            "“{fact}”를 바탕으로 앞으로 어떤 방향으로 성장하고 싶으신가요? 저희에게 궁금한 점도 있으신가요?",
            "“{fact}” 경험을 살려 다음 직무에서 무엇을 배우고 싶으신가요?",
        ),
    },
}

_NO_ROLE: dict[Language, str] = {"en": "this role", "ko": "이번"}
_BULLET = re.compile(r"^[\s•·\-*–—▪●○◦>]+")
_MAX_FACT = 80


def unwrap_lines(chunk_text: str) -> str:
    """Rejoin sentences that PDF text wrapped across lines."""
    # An English line going on in lower case continues the sentence above it.
    text = re.sub(r"(?<![.!?:。])\n(?=[a-z(])", " ", chunk_text)
    # Korean sentences end in punctuation after a verb ending; a Hangul line that follows a line
    # without one continues the same sentence.
    return re.sub(r"(?<=[가-힣A-Za-z0-9,)])\n(?=[가-힣])", " ", text)


def _candidates(chunk_text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?。])\s+|\n+", unwrap_lines(chunk_text))
    return [_BULLET.sub("", p).strip(" .;:,") for p in parts if p.strip()]


_ACTION = re.compile(
    r"^(led|built|designed|developed|implemented|improved|created|managed|reduced|increased|launched|"
    r"migrated|analy[sz]ed|optimi[sz]ed|automated|introduced|mentored|architected|deployed|wrote|ran|"
    r"owned|scaled|shipped|delivered|established|drove|cut|raised|coordinated|conducted|published|"
    r"utilized|used|trained|researched|maintained|integrated|refactored)\b",
    re.IGNORECASE,
)
_KO_ACTION = re.compile(r"(했습니다|하였습니다|개발|구축|설계|구현|개선|단축|운영|분석|도입|수행|담당|진행)")
_CONTACT = re.compile(r"@|https?://|\+?\d[\d\s\-()]{8,}\d|^(phone|email|linkedin|github)\b", re.IGNORECASE)
_ADDRESS = re.compile(
    r"^\d+\s+\w+.*\b(st|street|ave|avenue|rd|road|blvd|lane|ln|drive|dr)\b\.?$", re.IGNORECASE
)
_DATE_RANGE = re.compile(r"\b(19|20)\d{2}(\.\d{1,2})?\s*[-–~]|\b(19|20)\d{2}\s*년")


def _salience(line: str) -> float:
    """How good a line is to quote: an accomplishment with something concrete beats a title, a
    list, an address or a contact line."""
    score = 0.0
    score += 3.0 * bool(_ACTION.match(line) or _KO_ACTION.search(line))
    score += 1.0 * bool(re.search(r"\d+\s*(%|x\b|ms\b|건|배|명)", line))  # a measured result
    score += 0.5 * min(len(re.findall(r"\b[A-Z][A-Za-z0-9+#.]+", line)), 3)
    score += 1.0 * (len(line) >= 40)
    score -= 4.0 * bool(_CONTACT.search(line) or _ADDRESS.search(line))
    score -= 1.5 * bool(_DATE_RANGE.search(line))  # a title/date header line
    score -= 2.0 * (len(line) < 25)
    score -= 1.5 * (line.count(",") >= 4)  # a bare list of skills
    return score


def _shorten(line: str) -> str:
    # Hangul packs about twice the meaning per character: a quote of the same weight is shorter.
    limit = _MAX_FACT // 2 + 5 if re.search(r"[가-힣]{2}", line) else _MAX_FACT
    if len(line) <= limit:
        return line
    cut = line[:limit]
    # End on a clause boundary when there is one in the second half, else on a word.
    clause = max(cut.rfind(", "), cut.rfind("하고 "), cut.rfind("하며 "))
    return (
        cut[: clause + (1 if cut[clause] == "," else 2)] if clause > limit // 2 else cut.rsplit(" ", 1)[0]
    ).rstrip(" ,") + "…"


def pick_fact(
    chunk_texts: list[str], *, used: Collection[str] = (), avoid: Collection[str] = ()
) -> str | None:
    """The most concrete short line of the retrieved chunks, in retrieval order on ties.

    ``used``: facts earlier questions quoted (never quote one twice). ``avoid``: lines that say
    nothing to ask about on their own, such as the candidate's name or target role.
    """
    skip = {x.casefold() for x in used} | {x.casefold().strip() for x in avoid if x.strip()}
    best: tuple[float, int, str] | None = None
    min_score = 0.0  # below this a line (an address, a bare title) is worse than no quote at all
    for rank, chunk in enumerate(chunk_texts):
        for line in _candidates(chunk):
            if len(line) < 8:
                continue
            fact = _shorten(line)
            folded = line.casefold()
            if fact.casefold() in skip or folded in skip or any(a in folded for a in skip if len(a) >= 2):
                continue
            key = (_salience(line) - 0.5 * rank, -rank, fact)
            if key[0] < min_score:
                continue
            if best is None or key[:2] > best[:2]:
                best = key
    return best[2] if best else None


def template_question(
    stage: Stage, language: Language, fact: str | None, role: str | None, variant: int
) -> str:
    options = _TEMPLATES[language][stage]
    text = options[variant % len(options)]
    role_text = role or _NO_ROLE[language]
    if language == "en" and role:
        role_text = f"the {role} role"
    if fact is None:
        # A resume too thin to quote: ask the stage's question without an anchor.
        fact = {"en": "your most recent work", "ko": "최근 경력"}[language]
    return text.format(fact=fact.replace("“", "").replace("”", ""), role=role_text)
