"""Checks a generated question must pass before it is asked: the model proposes, these rules decide.

Besides language, form and grounding, they reject the faults seen in real plans: a quoted or pasted
resume line, a list label read as an experience ("Languages: ..."), a clause said twice, a number the
resume never says or a year read as a head count ("a team of 2019"), and a Korean particle that does
not fit how the word before it is read (chosen with :mod:`agent.text.josa`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass

from agent.plan.facts import technologies
from agent.plan.stages import Language
from agent.text.josa import josa
from agent.text.korean import final_consonant

_HANGUL = re.compile(r"[가-힣]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#.\-]{3,}|[가-힣]{2,}")
_PROMPT_MARKERS = (
    "resume facts",
    "stage:",
    "json",
    "candidate's resume",
    "interview question about",
    "you are an interviewer",
    "the candidate",  # a question to the candidate speaks to them, not about them
    "이력서 내용",
    "단계:",
    "resume line",
    "goal:",
    "목표:",
)
_KO_QUESTION_ENDINGS = ("?", "주세요.", "주시겠어요?", "십시오.", "나요?", "까요?")
_STOP = frozenset(
    [
        "what",
        "when",
        "where",
        "which",
        "with",
        "your",
        "have",
        "about",
        "from",
        "that",
        "this",
        "they",
        "them",
        "their",
        "there",
        "would",
        "could",
        "should",
        "tell",
        "describe",
        "explain",
        "please",
        "give",
        "how",
        "were",
        "been",
        "into",
        "more",
        "most",
        "some",
        "time",
        "work",
        "worked",
        "role",
        "team",
        "project",
        "projects",
        "experience",
    ]
)


_QUOTES = re.compile(r"[“”\"「」『』]|(?:^|\s)'[^']{3,}'")
# "Languages: Java, Python" / "기술: A, B": a label followed by a list.
_LABEL_LIST = re.compile(r"[A-Za-z가-힣][A-Za-z가-힣 /&]{1,24}\s*[:：]\s*[^,?:]{1,30},")
_LABEL = re.compile(r"^\s*[•·\-*]?\s*([A-Za-z가-힣][A-Za-z가-힣 /&]{1,24})\s*[:：]", re.MULTILINE)
_YEAR_AS_COUNT = re.compile(
    r"\b(?:team|group|staff|crew) of (?:19|20)\d\d\b|\b(?:19|20)\d\d (?:people|engineers|members|users)\b"
    r"|(?:19|20)\d\d\s*(?:명|인)",
    re.IGNORECASE,
)
# Scripts neither language of an interview is written in (a 1.5B model drifts into them: "Python, и").
_FOREIGN_SCRIPT = re.compile(r"[\u0400-\u04ff\u0590-\u06ff\u3040-\u30ff\u4e00-\u9fff]")
# Endings a Korean question never has: a statement with a question mark, a written-style 는가요, the
# interviewer offering something or honouring itself (드릴까요, 도와드렸나요: seen from the 1.5B model).
_KO_BAD_ENDING = re.compile(r"(?:습니다|는가요|었다|했다|이다|한다|드릴까요|드렸나요)\?$")
_LOWER_LATIN = re.compile(r"(?<![A-Za-z.])[a-z][a-z\-]{2,}(?![A-Za-z])")
# Three short items and a comma after each: a resume list read out ("JavaScript, TypeScript, HTML5, ...").
_ITEM_LIST = re.compile(r"(?:(?<![\w.+#/-])[\w.+#/-]+(?: [\w.+#/-]+){0,2}, ){3,}")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_PASTE_RUN = {"en": 8, "ko": 6}
"""Words in a row shared with a resume line that make a question a paste rather than a paraphrase."""
_PARTICLE = re.compile(r"([A-Za-z0-9가-힣+#%)]+)(이라고|라고|으로|을|를|은|는|과|와|이|가|로)(?=[\s,.?!]|$)")
_PARTICLE_PAIR = {
    "이라고": "이라고/라고",
    "라고": "이라고/라고",
    "으로": "으로/로",
    "로": "으로/로",
    "을": "을/를",
    "를": "을/를",
    "은": "은/는",
    "는": "은/는",
    "과": "과/와",
    "와": "과/와",
    "이": "이/가",
    "가": "이/가",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None = None


def content_terms(text: str) -> set[str]:
    return {w.casefold().strip(".-") for w in _WORD.findall(text)} - _STOP


def is_grounded(question: str, sources: Sequence[str], ignore: Set[str] = frozenset()) -> bool:
    """True when the question shares a content word with the resume text it cites; ``ignore``:
    words that name no fact of this resume (the role applied for: "why did you choose to work as a
    Software Engineer?" shares "engineer" with any engineer's resume and asks about none of it)."""
    q_terms = content_terms(question) - ignore
    return any(q_terms & content_terms(src) for src in sources)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z가-힣0-9%']+", text.casefold())


def _runs(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def repeats_a_clause(question: str, language: Language) -> bool:
    """The same run of words twice ("pursue X, and what motivated you to pursue X?")."""
    words = _words(question)
    n = 4 if language == "en" else 3
    runs = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(runs) != len(set(runs))


def pastes_source(question: str, sources: Sequence[str], language: Language) -> bool:
    """A long run of a resume line's words read back: pasted, not paraphrased."""
    n = _PASTE_RUN[language]
    asked = _runs(_words(question), n)
    return any(asked & _runs(_words(src), n) for src in sources)


def list_label(question: str, sources: Sequence[str]) -> bool:
    """A list heading of the resume ("Languages:", "기술 스택:") said as if it were an experience."""
    if _LABEL_LIST.search(question):
        return True
    labels = {m.group(1).strip().casefold() for src in sources for m in _LABEL.finditer(src)}
    folded = question.casefold()
    return any(re.search(rf"{re.escape(label)}\s*[:：]", folded) for label in labels if len(label) >= 2)


def misread_number(question: str, sources: Sequence[str]) -> bool:
    """A year read as a count, or a number no cited line says."""
    if _YEAR_AS_COUNT.search(question):
        return True
    said = set().union(*(_numbers(s) for s in sources)) if sources else set()
    return bool(_numbers(question) - said)


def wrong_particles(question: str) -> list[str]:
    """Particles that do not fit how the word before them is read ("개발라고", "Python를")."""
    wrong: list[str] = []
    for match in _PARTICLE.finditer(question):
        word, particle = match.group(1), match.group(2)
        final = final_consonant(word)
        if final is None:
            continue
        if "가" <= word[-1] <= "힣":
            # After Hangul, a syllable such as 가 or 이 may be the word's own ("평가", "차이"): only
            # the forms that never follow a final consonant are checked.
            if final and particle in ("를", "와", "라고"):
                wrong.append(f"{word}{particle}")
            continue
        if josa(word, _PARTICLE_PAIR[particle]) != particle:
            wrong.append(f"{word}{particle}")
    return wrong


def english_words_in_korean(question: str) -> list[str]:
    """Lower-case English words that are no technology name ("pipelines를", "architecture를"): a
    Korean question says them in Korean."""
    return [w for w in _LOWER_LATIN.findall(question) if not technologies(w)]


def _ending(text: str) -> tuple[str, ...]:
    return tuple(_words(text)[-3:])


def validate_question(
    question: str,
    *,
    language: Language,
    sources: Sequence[str],
    earlier: Sequence[str],
    paraphrase: bool = False,
    role: str | None = None,
) -> Verdict:
    """Whether ``question`` may be asked. ``sources``: the resume text it was built from;
    ``paraphrase``: also reject a long run of a source's words (for generated text: the templates
    place a phrase taken from the line on purpose); ``role``: the role applied for, whose words do
    not ground a question."""
    q = question.strip()
    if not 20 <= len(q) <= 240:
        return Verdict(False, f"length {len(q)} outside 20-240 characters")
    # Quoted resume text keeps its own language (Korean resumes are full of English terms).
    unquoted = re.sub(r"“[^”]*”", "", q)
    hangul, latin = len(_HANGUL.findall(unquoted)), len(_LATIN.findall(unquoted))
    if language == "ko" and hangul < max(5, latin * 0.5):
        return Verdict(False, "not Korean")
    if language == "en" and (hangul > 0 or latin < 15):
        return Verdict(False, "not English")
    if language == "en" and not q.endswith("?"):
        return Verdict(False, "does not end as a question")
    if language == "ko" and (not q.endswith(_KO_QUESTION_ENDINGS) or _KO_BAD_ENDING.search(q)):
        return Verdict(False, "does not end as a question")
    if _FOREIGN_SCRIPT.search(q):
        return Verdict(False, f"not {'Korean' if language == 'ko' else 'English'}: another script")
    if language == "ko" and (english := english_words_in_korean(q)):
        return Verdict(False, f"not Korean: English words {', '.join(english)}")
    lowered = q.casefold()
    if any(marker in lowered for marker in _PROMPT_MARKERS):
        return Verdict(False, "repeats the prompt")
    for src in sources:
        # A question that is a resume line with a question mark stuck on is a copy, not a question.
        if len(q) > 30 and (q.rstrip("?").casefold() in src.casefold()):
            return Verdict(False, "copies the resume text")
    if _QUOTES.search(q):
        return Verdict(False, "quotes text")
    if list_label(q, sources):
        return Verdict(False, "reads a list label")
    if _ITEM_LIST.search(q):
        return Verdict(False, "reads a list of the resume")
    if repeats_a_clause(q, language):
        return Verdict(False, "repeats a clause")
    if misread_number(q, sources):
        return Verdict(False, "a number the resume does not say")
    if language == "ko" and (wrong := wrong_particles(q)):
        return Verdict(False, f"wrong particle {', '.join(wrong)}")
    if paraphrase and pastes_source(q, sources, language):
        return Verdict(False, "pastes the resume text")
    if not is_grounded(q, sources, ignore=content_terms(role or "")):
        return Verdict(False, "not grounded in the retrieved resume text")
    if paraphrase and any(_ending(q) == _ending(other) for other in earlier):
        return Verdict(False, "asks the way an earlier question did")
    q_terms = content_terms(q)
    for other in earlier:
        o_terms = content_terms(other)
        if q_terms and len(q_terms & o_terms) / len(q_terms | o_terms) > 0.7:
            return Verdict(False, "repeats an earlier question")
    return Verdict(True)
