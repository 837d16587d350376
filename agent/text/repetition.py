"""Whisper's repetition loops, collapsed: "그는 길 옆으로 걸어갔다. 자, 자, 자, ..." (forty times).

Whisper decodes greedily and, on trailing noise or audio it cannot place, can fall into emitting the
same token or phrase until its window ends. Decoding options make that rarer (see
:mod:`agent.models.stt`); what still comes out is cut here: a run of one word repeated
:data:`MIN_WORD_RUN` times or more, or of a phrase of 2-8 words repeated :data:`MIN_PHRASE_RUN` times
or more, is kept once. People repeat a word for emphasis twice ("very very", "아주 아주"), and
sometimes three times ("no, no, no"): those stay.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MIN_WORD_RUN = 4
MIN_PHRASE_RUN = 3
MAX_PHRASE_WORDS = 8


def _key(token: str) -> str:
    return re.sub(r"[^\w]", "", token.casefold())


def kept_indices(tokens: Sequence[str]) -> list[int]:
    """Indices of ``tokens`` to keep once repeated runs are collapsed to their last occurrence
    (which carries the sentence's closing punctuation when there is one)."""
    keys = [_key(t) for t in tokens]
    kept: list[int] = []
    i = 0
    while i < len(keys):
        best_n, best_runs = 0, 1
        for n in range(1, MAX_PHRASE_WORDS + 1):
            unit = keys[i : i + n]
            if len(unit) < n or not any(unit):
                break
            runs = 1
            while keys[i + runs * n : i + (runs + 1) * n] == unit:
                runs += 1
            needed = MIN_WORD_RUN if n == 1 else MIN_PHRASE_RUN
            if runs >= needed and runs * n > best_runs * best_n:
                best_n, best_runs = n, runs
        if best_n:
            last = i + (best_runs - 1) * best_n
            kept.extend(range(last, last + best_n))
            i += best_runs * best_n
            # A loop runs to the end of Whisper's window and stops mid-word ("그는 그는 그"): a last
            # token that only begins the repeated unit is that cut, not speech.
            rest = keys[i:]
            if len(rest) == 1 and rest[0] and keys[last].startswith(rest[0]):
                i += 1
        else:
            kept.append(i)
            i += 1
    return kept


# A loop inside one token: Whisper writes "3,4,4,4,4,4,4,..." without spaces. A unit ending in a
# separator, repeated MIN_WORD_RUN times or more; "1,000,000" (two repeats) is a number.
_IN_TOKEN = re.compile(r"([^,、·\s]{1,6}[,、·])\1{" + str(MIN_WORD_RUN - 1) + r",}")


def collapse_in_token(token: str) -> str:
    return _IN_TOKEN.sub(r"\1", token)


def collapse_repeats(text: str) -> str:
    """``text`` with repetition loops kept once; legitimate doubled words untouched."""
    tokens = [collapse_in_token(t) for t in text.split()]
    return " ".join(tokens[i] for i in kept_indices(tokens))


def has_loop(text: str) -> bool:
    """Whether ``text`` holds a run that :func:`collapse_repeats` would cut."""
    tokens = text.split()
    return any(collapse_in_token(t) != t for t in tokens) or len(kept_indices(tokens)) < len(tokens)
