"""Text cues that a pause is not the end of an answer (transcript-aware endpointing).

A candidate thinking mid-answer pauses for a second or more ("And so, my fellow Americans, ... ask
not ..."); VAD silence alone would end the turn there and the interviewer would talk over them.
Whisper punctuates what it hears: a finished sentence ends in a full stop or question mark, a
thought cut short ends in a comma, a conjunction, a filler, or (in Korean) a connective ending.
"""

from __future__ import annotations

import re

_UNFINISHED = {
    "en": re.compile(
        r"(\b(and|but|so|because|or|um+|uh+|the|a|an|to|of|with|that|which|like|then|not|if|when|"
        r"my|our|your|their|is|was|were|are)[\s,.…-]*|[,;:…-]\s*)$",
        re.IGNORECASE,
    ),
    # Conjunctions and fillers, or a connective verb ending (-고, -는데, -서, -면서, -지만, -니까):
    # Korean puts them at the end of a clause that the next clause completes.
    "ko": re.compile(
        r"((그리고|그래서|그런데|근데|그러니까|음+|어+|그|저)[\s,.…]*"
        r"|(고|는데|은데|던데|해서|어서|아서|면서|지만|니까|으면|려고)[\s,…]*"
        r"|[,;:…-]\s*)$"
    ),
}


SHORT_WORDS = {"en": 8, "ko": 5}
"""Fewer words than this is not yet an answer to an interview question (Korean words, eojeol, carry
about 1.5 English words each). Whisper tiny.en ends even a cut-off phrase with a full stop ("And so
my fellow Americans."), so punctuation alone cannot tell a breath from the end."""


def too_short(text: str, language: str | None) -> bool:
    return len(text.split()) < SHORT_WORDS.get(language or "en", SHORT_WORDS["en"])


def looks_unfinished(text: str, language: str | None) -> bool:
    """Whether the transcript so far ends mid-sentence (a trailing comma, a conjunction, an article,
    a filler, a Korean connective ending)."""
    stripped = text.strip()
    if not stripped:
        return False
    pattern = _UNFINISHED.get(language or "en")
    return bool(pattern and pattern.search(stripped))
