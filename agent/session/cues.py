"""Text cues that a pause is not the end of an answer (transcript-aware endpointing)."""

from __future__ import annotations

import re

_UNFINISHED = {
    "en": re.compile(
        r"\b(and|but|so|because|or|um+|uh+|the|a|an|to|of|with|that|which|like|then)[\s,.]*$", re.IGNORECASE
    ),
    "ko": re.compile(r"(그리고|그래서|그런데|근데|음+|어+|그|저)[\s,.]*$"),
}


def looks_unfinished(text: str, language: str | None) -> bool:
    """Whether the transcript so far ends mid-sentence (a conjunction, an article, a filler)."""
    pattern = _UNFINISHED.get(language or "en")
    return bool(pattern and pattern.search(text.strip()))
