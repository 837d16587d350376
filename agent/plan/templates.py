"""Deterministic questions built around a retrieved resume fact: the fallback when the LLM's question
fails validation, and every Korean question while the shipped LLM writes no Korean.

A question names a concrete thing from the resume (what the candidate did, a measured result, a
technology) inside a sentence written for it, the way an interviewer who read the resume would ask;
it never reads a resume line back in quotes (see :mod:`agent.plan.facts`). Several phrasings per
stage and per kind of fact, so a repeated stage does not repeat itself. Korean particles after a
term are chosen by how the term is read (:mod:`agent.text.josa`).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from agent.plan.facts import Fact, english_fact, korean_fact
from agent.plan.stages import Language, Stage
from agent.text.josa import attach

Slot = str  # "subject", "result", "subject_term", "term", "none"

_TEMPLATES: dict[Language, dict[Stage, dict[Slot, tuple[str, ...]]]] = {
    "en": {
        Stage.INTRO: {
            "subject": (
                "To begin, could you introduce yourself, including your time {subject}, "
                "and tell me what draws you to {role}?",
            ),
            "term": (
                "To begin, could you introduce yourself, tell me how you came to work with {term}, "
                "and what draws you to {role}?",
            ),
            "none": (
                "Could you introduce yourself and tell me what draws you to {role}?",
                "To begin, could you walk me through your background and why {role} interests you?",
            ),
        },
        Stage.EXPERIENCE: {
            "subject": (
                "You mention {subject}. What was your own part in that work, and which result are you most "
                "proud of?",
                "Tell me more about {subject}: what problem were you solving, and how did you measure success?",
                "What was the hardest part of {subject}, and what would you do differently today?",
            ),
            "result": (
                "How did you go about {result}, and how did you confirm that your change was the cause?",
                "Walk me through {result}: where did you start, and what did you try that did not work?",
            ),
            "term": (
                "Tell me about a project where you used {term}. What was your own role, and which result are "
                "you most proud of?",
                "What is the most demanding thing you have built with {term}, and what exactly was your part "
                "in it?",
            ),
            "none": (
                "Tell me about your most recent project. What was your own role, and which result are you "
                "most proud of?",
                "What is the piece of work you are proudest of, and what exactly was your part in it?",
            ),
        },
        Stage.TECHNICAL: {
            "subject_term": (
                "When you were {subject}, why did you choose {term}, and what trade-offs came with it?",
            ),
            "term": (
                "You have worked with {term}. Can you walk me through a technical decision you made with it "
                "and its trade-offs?",
                "In the system you built with {term}, what would break first if the load grew tenfold?",
                "How did you test the work you did with {term}, and how did you debug the hardest issue you "
                "hit?",
            ),
            "subject": (
                "When you were {subject}, what was the key technical decision, and what were its trade-offs?",
                "Looking back on {subject}, how did you test it, and how did you debug the hardest issue?",
            ),
            "none": (
                "Can you walk me through a recent technical decision you made and its trade-offs?",
                "How do you decide that a system is tested well enough to ship, and what was the hardest bug "
                "you have debugged?",
            ),
        },
        Stage.COLLABORATION: {
            "subject": (
                "When you were {subject}, how did you work with your team, and how did you handle a "
                "disagreement?",
                "While {subject}, how did you keep stakeholders informed when priorities changed?",
            ),
            "term": (
                "On the project where you used {term}, how did you work with your team, and how did you "
                "handle a disagreement?",
                "When your team disagreed about how to use {term}, how was the decision made, and what was "
                "your part in it?",
            ),
            "none": (
                "Tell me about a time you disagreed with a teammate. How did you work it out?",
                "How do you keep stakeholders informed when priorities change in the middle of a project?",
            ),
        },
        Stage.CLOSING: {
            "subject": (
                "Looking back on {subject}, where do you want to grow next, and what questions do you have "
                "for us?",
            ),
            "term": (
                "Beyond {term}, what do you want to learn in your next role, and what questions do you have "
                "for us?",
            ),
            "none": (
                "Where do you want to grow next, and what questions do you have for us?",
                "What do you hope to learn in your next role, and what would you like to ask us?",
            ),
        },
    },
    "ko": {
        Stage.INTRO: {
            "subject": (
                "먼저 간단한 자기소개를 부탁드려요. {subject} 경험을 포함해 지금까지의 경력과 {role} 직무에 "
                "지원하신 이유를 말씀해 주시겠어요?",
            ),
            "term": (
                "먼저 간단한 자기소개를 부탁드려요. {term_eul} 다뤄 오신 경력과 {role} 직무에 지원하신 이유를 "
                "말씀해 주시겠어요?",
            ),
            "none": (
                "간단한 자기소개와 함께 {role} 직무에 지원하신 이유를 말씀해 주시겠어요?",
                "지금까지의 경력을 간단히 소개해 주시고, {role} 직무를 선택하신 이유는 무엇인가요?",
            ),
        },
        Stage.EXPERIENCE: {
            "subject": (
                "{subject} 경험에 대해 여쭤볼게요. 직접 맡으신 역할과 가장 기억에 남는 성과는 무엇이었나요?",
                "{subject} 경험을 더 자세히 말씀해 주세요. 어떤 문제를 해결하셨고, 성과는 어떻게 "
                "측정하셨나요?",
                "{subject} 과정에서 가장 어려웠던 점은 무엇이었고, 지금이라면 무엇을 다르게 하시겠어요?",
            ),
            "result": (
                "{result} 과정이 궁금해요. 어디서부터 시작하셨고, 그 변화가 성과로 이어졌다는 것은 어떻게 "
                "확인하셨나요?",
                "{result} 과정을 처음부터 설명해 주시겠어요? 시도했지만 효과가 없었던 방법도 있었나요?",
            ),
            "term": (
                "{term_eul} 사용하신 프로젝트 하나를 소개해 주시겠어요? 직접 맡으신 역할과 가장 기억에 남는 "
                "성과도 함께 말씀해 주세요.",
                "{term_euro} 만드신 것 중 가장 까다로웠던 작업은 무엇이었고, 그 작업에서 직접 맡으신 부분은 "
                "무엇이었나요?",
            ),
            "none": (
                "최근에 참여하신 프로젝트 하나를 소개해 주시겠어요? 직접 맡으신 역할과 가장 기억에 남는 "
                "성과도 함께 말씀해 주세요.",
                "지금까지 하신 일 중 가장 자랑스러운 성과는 무엇이고, 그 일에서 직접 맡으신 부분은 "
                "무엇이었나요?",
            ),
        },
        Stage.TECHNICAL: {
            "subject_term": (
                "{subject} 과정에서 {term_eul} 선택하신 이유는 무엇이고, 그때 고려하신 트레이드오프는 "
                "무엇이었나요?",
            ),
            "term": (
                "{term_euro} 작업하시면서 내리신 기술적 결정 하나와 그때 고려하신 트레이드오프를 설명해 "
                "주시겠어요?",
                "{term_eul} 사용한 시스템에서 부하가 열 배로 늘면 무엇이 먼저 문제가 될까요?",
                "{term_eul} 쓰신 작업은 어떻게 테스트하셨고, 가장 까다로웠던 문제는 어떻게 디버깅하셨나요?",
            ),
            "subject": (
                "{subject} 과정에서 내리신 가장 중요한 기술적 결정은 무엇이었고, 그 트레이드오프는 "
                "무엇이었나요?",
                "{subject} 과정에서 결과물은 어떻게 테스트하셨고, 가장 까다로웠던 문제는 어떻게 "
                "해결하셨나요?",
            ),
            "none": (
                "최근에 내리신 기술적 결정 하나와 그때 고려하신 트레이드오프를 설명해 주시겠어요?",
                "배포해도 될 만큼 테스트가 충분하다는 것은 어떻게 판단하시나요? 가장 까다로웠던 디버깅 경험도 "
                "말씀해 주세요.",
            ),
        },
        Stage.COLLABORATION: {
            "subject": (
                "{subject} 과정에서 팀과 어떻게 협업하셨고, 의견이 갈렸을 때는 어떻게 해결하셨나요?",
                "{subject} 과정에서 우선순위가 바뀌었을 때 이해관계자와는 어떻게 소통하셨나요?",
            ),
            "term": (
                "{term_eul} 사용한 프로젝트에서 팀과 어떻게 협업하셨고, 의견 충돌은 어떻게 해결하셨나요?",
                "{term_eul} 어떻게 쓸지를 두고 팀의 의견이 갈렸을 때, 결정은 어떻게 내려졌고 그 과정에서 "
                "어떤 역할을 하셨나요?",
            ),
            "none": (
                "동료와 의견이 달랐던 경험 하나를 말씀해 주시겠어요? 그때 어떻게 해결하셨나요?",
                "프로젝트 중간에 우선순위가 바뀌었을 때 이해관계자와 어떻게 소통하셨나요?",
            ),
        },
        Stage.CLOSING: {
            "subject": (
                "{subject} 경험을 바탕으로 앞으로 어떤 방향으로 성장하고 싶으신가요? 저희에게 궁금한 점도 "
                "있으신가요?",
            ),
            "term": (
                "{term_wa} 관련해 다음 직무에서 더 깊이 배우고 싶은 것이 있으신가요? 저희에게 궁금한 점도 "
                "말씀해 주세요.",
            ),
            "none": (
                "앞으로 어떤 방향으로 성장하고 싶으신가요? 저희에게 궁금한 점도 있으신가요?",
                "다음 직무에서는 무엇을 배우고 싶으신가요? 저희에게 궁금한 점도 말씀해 주세요.",
            ),
        },
    },
}

_NO_ROLE: dict[Language, str] = {"en": "this role", "ko": "이번"}
_BULLET = re.compile(r"^[\s•·\-*–—▪●○◦>]+")


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


_KO_FUTURE_OR_PROMPT = re.compile(r"겠습니다|주십시오|기술해 주|설명해 주|바랍니다")


def _usable(fact: Fact, language: Language) -> float:
    """How much a question can say with this fact in ``language``: a phrase beats a bare technology."""
    if language == "en" and (fact.subject_en or fact.result_en):
        return 2.0 + 0.5 * bool(fact.result_en)
    if language == "ko" and (fact.subject_ko or fact.result_ko):
        return 2.0 + 0.5 * bool(fact.result_ko)
    return 0.5 if fact.terms else -10.0


def make_fact(line: str, language: Language, known: frozenset[str] = frozenset()) -> Fact:
    """The fact in ``line`` for a question in ``language`` (an English line in a Korean interview
    gives its technologies only, and the other way round)."""
    korean_line = re.search(r"[가-힣]{2}", line) is not None
    if korean_line:
        return korean_fact(line, known)
    return english_fact(line, known)


def pick_fact(
    chunk_texts: list[str],
    *,
    language: Language = "en",
    used: Collection[str] = (),
    avoid: Collection[str] = (),
    known: Collection[str] = (),
) -> Fact | None:
    """The most concrete usable line of the retrieved chunks, taken apart, in retrieval order on ties.

    ``used``: lines earlier questions were built on (never twice). ``avoid``: lines that say nothing
    to ask about on their own, such as the candidate's name or target role. ``known``: the resume's
    skills, counted as technologies.
    """
    skip = {x.casefold() for x in used} | {x.casefold().strip() for x in avoid if x.strip()}
    skills = frozenset(k.casefold() for k in known)
    best: tuple[float, int, Fact] | None = None
    for rank, chunk in enumerate(chunk_texts):
        for line in _candidates(chunk):
            if len(line) < 8 or _KO_FUTURE_OR_PROMPT.search(line):
                continue
            folded = line.casefold()
            if folded in skip or any(a in folded for a in skip if len(a) >= 2):
                continue
            salience = _salience(line)
            if salience < 0:  # an address, a contact line, a bare title
                continue
            fact = make_fact(line, language, skills)
            phrase = fact.phrase(language)
            if phrase and phrase.casefold() in skip:
                # The same thing said on two lines (a PDF wrap, a cover letter repeating the resume)
                # is one topic: asked about once.
                continue
            score = salience + _usable(fact, language) - 0.5 * rank
            if score < 0:
                continue
            if best is None or (score, -rank) > best[:2]:
                best = (score, -rank, fact)
    return best[2] if best else None


def _choose_term(fact: Fact | None, used_terms: Collection[str]) -> str | None:
    if fact is None or not fact.terms:
        return None
    spent = {t.casefold() for t in used_terms}
    fresh = [t for t in fact.terms if t.casefold() not in spent]
    # Longer names first: "PostgreSQL" says more than "SQL" and grounds the question better.
    # A term already asked about is not asked about again: the stage's general question reads better.
    return max(fresh, key=len) if fresh else None


def _slots(stage: Stage, language: Language, fact: Fact | None, term: str | None, variant: int) -> list[Slot]:
    subject = result = None
    if fact is not None:
        subject = fact.subject_en if language == "en" else fact.subject_ko
        result = fact.result_en if language == "en" else fact.result_ko
    order: list[Slot] = []
    if stage is Stage.EXPERIENCE and result and (variant % 2 or not subject):
        order.append("result")
    if stage is Stage.TECHNICAL and term:
        order += ["subject_term"] if subject and variant % 2 == 0 else []
        order.append("term")
    if subject or result:
        order.append("subject")
    if term:
        order.append("term")
    order.append("none")
    return order


def template_question(
    stage: Stage,
    language: Language,
    fact: Fact | None,
    role: str | None,
    variant: int,
    *,
    used_terms: Collection[str] = (),
) -> str:
    """A question for ``stage`` built around ``fact`` (None: a resume too thin to build on)."""
    templates = _TEMPLATES[language][stage]
    term = _choose_term(fact, used_terms)
    slot = next(s for s in _slots(stage, language, fact, term, variant) if s in templates)
    options = templates[slot]
    text = options[variant % len(options)]
    if language == "en":
        role_text = f"the {role} role" if role and not re.search(r"[가-힣]", role) else _NO_ROLE["en"]
    else:
        role_text = role or _NO_ROLE["ko"]
    subject = result = ""
    if fact is not None:
        subject = (fact.subject_en if language == "en" else fact.subject_ko) or ""
        result = (fact.result_en if language == "en" else fact.result_ko) or ""
    values = {
        "role": role_text,
        "subject": subject or result,
        "result": result,
        "term": term or "",
        "term_eul": attach(term, "을/를") if term else "",
        "term_euro": attach(term, "으로/로") if term else "",
        "term_wa": attach(term, "과/와") if term else "",
    }
    question = text.format(**values)
    return question[0].upper() + question[1:]
