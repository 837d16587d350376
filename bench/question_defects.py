"""Faults a person would notice in an interview question, counted by rules the planner does not use.

Kept apart from ``agent/plan`` on purpose (its own small reading table included): a checker that
shared the planner's code would share its mistakes. The faults are those seen in real plans:

- ``quoted_fragment``: a quoted resume line cut mid-phrase ("“Proficient in MongoDB, React, and”"),
  or a quote so long that it is the resume pasted back;
- ``list_label``: a list heading quoted as an experience ("“Languages: Java, Python” 경험에서");
- ``repeated_clause``: the same clause twice ("pursue X, and what motivated you to pursue X?");
- ``number_misread``: a year read as a count ("a team of 2019"), or a number the resume never says;
- ``wrong_particle``: a Korean particle that does not fit how the word before it is read
  ("개발”라고", "30%와" is right, "개선”와" is not);
- ``placeholder``, ``wrong_language``, ``not_a_question``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_QUOTE = re.compile(r"[“\"]([^”\"]{3,})[”\"]")
_EN_FUNCTION_END = re.compile(r"\b(?:and|or|with|of|the|a|an|to|in|for|by|on|at|from|including)$", re.I)
_KO_CUT_END = re.compile(r"(?:및|등|의|와|과|을|를|,)$")
_LABEL_LIST = re.compile(r"(?:^|[“\"\s])[A-Za-z가-힣 /]{2,25}\s*[:：]\s*[^,:]{1,30},[^,]{1,30},")

# --- how Korean reads the end of a word (independent of agent.text) ---------------------------------

_DIGIT_FINAL = {"0": True, "1": True, "2": False, "3": True, "4": False, "5": False, "6": True}
_DIGIT_FINAL |= {"7": True, "8": True, "9": False}
_LETTER_FINAL = {ch: ch in "LMNR" for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_UNIT_FINAL = {"%": False, "ms": False, "s": False, "x": False, "gb": False, "mb": False, "k": True}
_WORD_FINAL = {
    "python": True,
    "kotlin": True,
    "git": True,
    "github": False,
    "slack": True,
    "web": True,
    "go": False,
    "java": False,
    "redis": False,
    "boot": False,
    "spring": True,
    "kubernetes": False,
    "postgresql": True,
    "mysql": True,
    "oracle": True,
    "linux": False,
    "react": False,
    "node.js": False,
    "next.js": False,
    "c++": True,
    "c#": False,
    "docker": False,
    "kafka": False,
    "firebase": False,
    "terraform": True,
}


def _ends_in_consonant(word: str) -> bool | None:
    """Whether ``word`` ends in a consonant when read in Korean; None when the checker cannot tell."""
    word = re.sub(r"\s*[(\[][^()\[\]]*[)\]]$", "", word.strip(" “”\"'"))
    if not word:
        return None
    last = word[-1]
    if "가" <= last <= "힣":
        return (ord(last) - 0xAC00) % 28 != 0
    match = re.search(r"(\d+)\s*(%|ms|s|x|gb|mb|k)?$", word, re.I)
    if match:
        if match.group(2):
            return _UNIT_FINAL[match.group(2).lower()]
        digits = match.group(1).rstrip("0")
        zeros = len(match.group(1)) - len(digits)
        if zeros:
            return True  # 십, 백, 천, 만 all end in a consonant
        return _DIGIT_FINAL[digits[-1]] if digits else True
    token = re.search(r"[A-Za-z][A-Za-z+#.]*$", word)
    if token is None:
        return None
    text = token.group(0)
    if text.casefold() in _WORD_FINAL:
        return _WORD_FINAL[text.casefold()]
    if text.isupper() and len(text) <= 6:
        return _LETTER_FINAL[text[-1]]
    return text.casefold().endswith(("l", "le", "m", "n", "ng", "ck"))


_PARTICLES = {
    "이라고": True,
    "라고": False,
    "으로": True,
    "을": True,
    "를": False,
    "은": True,
    "는": False,
    "과": True,
    "와": False,
    "이": True,
    "가": False,
}
_AFTER_TERM = re.compile(
    r"([A-Za-z0-9+#%)”][A-Za-z0-9+#.%)”\"]*)(이라고|라고|으로|을|를|은|는|과|와|이|가)(?=[\s,.?]|$)"
)
_HANGUL_WRONG = re.compile(r"([가-힣])(를|와)(?=[\s,.?]|$)")


def _particle_faults(question: str) -> list[str]:
    faults: list[str] = []
    # A particle after a closing quote: decided by the quoted text's end.
    for match in re.finditer(r"“([^”]+)”(이라고|라고|으로|을|를|은|는|과|와|이|가)", question):
        final = _ends_in_consonant(match.group(1))
        if final is not None and final != _PARTICLES[match.group(2)]:
            faults.append(f"“…{match.group(1)[-6:]}”{match.group(2)}")
    for match in _AFTER_TERM.finditer(question):
        term, particle = match.group(1), match.group(2)
        if term.endswith("”"):
            continue
        final = _ends_in_consonant(term)
        if final is None:
            continue
        expected = _PARTICLES[particle]
        # 로 after an ㄹ-final reading (서울로, HTML로) is right: the checker cannot tell ㄹ apart, so
        # 로 is only a fault after a final it knows is not ㄹ-like (a plain consonant digit or letter).
        if particle == "로" and final:
            continue
        if final != expected:
            faults.append(f"{term}{particle}")
    for match in _HANGUL_WRONG.finditer(question):
        if (ord(match.group(1)) - 0xAC00) % 28 != 0:
            faults.append(f"{match.group(1)}{match.group(2)}")
    return faults


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


def question_defects(question: str, *, language: str, sources: Sequence[str] = ()) -> list[str]:
    """The faults of one question (empty when it reads as a person's)."""
    q = question.strip()
    faults: list[str] = []
    if "{" in q or "}" in q:
        faults.append("placeholder")
    hangul = len(re.findall(r"[가-힣]", q))
    if language == "en" and hangul:
        faults.append("wrong_language")
    if language == "ko" and hangul < 10:
        faults.append("wrong_language")
    if not q.endswith(("?", "요.", "세요.", "니다.", "시오.")):
        faults.append("not_a_question")
    for match in _QUOTE.finditer(q):
        quoted = match.group(1).strip()
        words = quoted.split()
        if (
            "…" in quoted
            or quoted.endswith(("...", ",", ";", ":"))
            or _EN_FUNCTION_END.search(quoted)
            or _KO_CUT_END.search(quoted)
            or len(words) > 8
        ):
            faults.append("quoted_fragment")
        if quoted.count(",") >= 2 or re.match(r"^[^:：]{2,25}[:：]", quoted):
            faults.append("list_label")
    if "…" in q and "quoted_fragment" not in faults:
        faults.append("quoted_fragment")
    if _LABEL_LIST.search(q) and "list_label" not in faults:
        faults.append("list_label")
    words = re.findall(r"[A-Za-z가-힣0-9']+", q.casefold())
    n = 4 if language == "en" else 3
    grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    if len(grams) != len(set(grams)):
        faults.append("repeated_clause")
    if re.search(
        r"\b(?:team|group|staff) of (?:19|20)\d\d\b|\b(?:19|20)\d\d (?:people|engineers|members)\b", q
    ):
        faults.append("number_misread")
    elif sources:
        said = set().union(*(_numbers(s) for s in sources))
        if _numbers(q) - said:
            faults.append("number_misread")
    if language == "ko":
        faults += ["wrong_particle"] * bool(_particle_faults(q))
    return faults


def particle_faults(question: str) -> list[str]:
    """The wrong particles themselves, for a report."""
    return _particle_faults(question)


def repeated_topics(questions: Sequence[str], *, language: str) -> list[bool]:
    """Per question of one plan: whether it repeats a long run of words of an earlier question (the
    same topic asked twice, or the same sentence read again): 6 words in English, 5 in Korean."""
    n = 6 if language == "en" else 5
    seen: set[str] = set()
    flags: list[bool] = []
    for question in questions:
        words = re.findall(r"[A-Za-z가-힣0-9%']+", question.casefold())
        grams = {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
        flags.append(bool(grams & seen))
        seen |= grams
    return flags
