"""Is a question about *this* candidate? A check the planner does not use.

The planner accepts a question when it shares a content word with the chunks it cites
(``agent.plan.validate.is_grounded``), so counting that again gives 100 % by construction. This
check asks something else, from the whole set of resumes planned together: a question is grounded
when it names a *distinctive* term of its own resume: a word (or Hangul stem) that appears in that
resume and in none of the other resumes of the set, and that is not part of the interviewer's own
vocabulary (the stage intents, and any word the plans of two or more candidates share: template
wording). A generic
question ("Tell me about a project you are proud of.") names no such term whatever it cites; one
that quotes another candidate's technology is not counted either. It uses its own tokenizer, not the
planner's, and needs at least two resumes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9+#.\-]*[A-Za-z0-9+#]|[A-Za-z]{2,}|\d+(?:[.,]\d+)?%?")
_HANGUL = re.compile(r"[가-힣]{2,}")
# Korean particles and endings that attach to a noun: stripped so "보안을" and "보안" are one term.
_JOSA = sorted(
    [
        "이라고",
        "라고",
        "으로",
        "에서",
        "에게",
        "까지",
        "부터",
        "하고",
        "이며",
        "이고",
        "과",
        "와",
        "을",
        "를",
        "은",
        "는",
        "이",
        "가",
        "의",
        "에",
        "로",
        "도",
        "만",
    ],
    key=len,
    reverse=True,
)
_MIN_LATIN = 3


def _stem(word: str) -> str:
    for ending in _JOSA:
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            return word[: -len(ending)]
    return word


def terms(text: str) -> set[str]:
    """Lower-cased Latin words and numbers (3+ characters) and Hangul stems (2+ syllables)."""
    latin = {w.casefold().rstrip(".-") for w in _LATIN.findall(text)}
    hangul = {_stem(w) for w in _HANGUL.findall(text)}
    return {t for t in latin if len(t) >= _MIN_LATIN} | {t for t in hangul if len(t) >= 2}


@dataclass(frozen=True, slots=True)
class GroundingCheck:
    distinctive: Mapping[str, frozenset[str]]
    """Resume key -> the terms that only that resume has."""

    @classmethod
    def build(
        cls,
        resumes: Mapping[str, str],
        questions: Mapping[str, Sequence[str]],
        vocabulary: Iterable[str] = (),
    ) -> GroundingCheck:
        """``resumes``: candidate key -> resume text (one key per candidate, however many files);
        ``questions``: candidate key -> the questions planned for them. A term that the questions of
        two or more candidates use is the interviewer's wording, as are the terms of ``vocabulary``
        (the stage intents)."""
        if len(resumes) < 2:
            raise ValueError("distinctive terms need at least two resumes")
        in_plans = Counter(t for qs in questions.values() for t in set().union(*map(terms, qs)))
        common = set().union(*map(terms, vocabulary)) | {t for t, n in in_plans.items() if n >= 2}
        per_resume = {key: terms(text) for key, text in resumes.items()}
        seen_in = Counter(term for found in per_resume.values() for term in found)
        return cls(
            {
                key: frozenset(t for t in found if seen_in[t] == 1 and t not in common)
                for key, found in per_resume.items()
            }
        )

    def evidence(self, resume: str, question: str) -> set[str]:
        """The distinctive terms of ``resume`` that the question names."""
        own = self.distinctive[resume]
        found = terms(question) & own
        # A Hangul term inflected differently in the question ("개발했" vs "개발"): a prefix match.
        found |= {t for t in own if not t.isascii() and len(t) >= 3 and t in question}
        return found

    def grounded(self, resume: str, question: str) -> bool:
        return bool(self.evidence(resume, question))


def grounded_share(check: GroundingCheck, questions: Sequence[tuple[str, str]]) -> float:
    """Percent of (resume key, question) pairs that name a distinctive term of their resume."""
    if not questions:
        return 0.0
    return 100 * sum(check.grounded(resume, q) for resume, q in questions) / len(questions)
