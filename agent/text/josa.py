"""Korean particles after a term, chosen by how the term ends when read aloud.

"개발" ends in a consonant: 개발이라고, 개발과, 개발을, 개발은, 개발이. "최적화" ends in a vowel:
최적화라고, 최적화와, 최적화를, 최적화는, 최적화가. A Latin or digit ending counts as Korean reads it
("API" 에이피아이, "Redis" 레디스, "30%" 퍼센트: vowels; "Python" 파이썬: a consonant); see
:mod:`agent.text.korean`. (으)로 is the one pair where ㄹ counts as a vowel: 서울로, 개발로.
"""

from __future__ import annotations

from agent.text.korean import final_consonant

_RIEUL = 8

PAIRS: dict[str, tuple[str, str]] = {
    "이/가": ("이", "가"),
    "을/를": ("을", "를"),
    "은/는": ("은", "는"),
    "과/와": ("과", "와"),
    "이라고/라고": ("이라고", "라고"),
    "이라는/라는": ("이라는", "라는"),
    "이나/나": ("이나", "나"),
    "이에요/예요": ("이에요", "예요"),
    "이었/였": ("이었", "였"),
    "으로/로": ("으로", "로"),
    "아/야": ("아", "야"),
}
"""Pair name -> (after a final consonant, after a vowel)."""


def josa(term: str, pair: str) -> str:
    """The particle of ``pair`` ("을/를", "이/가", ...) that follows ``term``.

    A term with nothing readable at its end takes the form written with 이/으 in brackets, as
    Korean writing does when it cannot tell: "(이)라고".
    """
    with_final, without = PAIRS[pair]
    final = final_consonant(term)
    if final is None:
        extra = with_final[: len(with_final) - len(without)] if with_final.endswith(without) else ""
        return f"({extra}){without}" if extra else f"{with_final}({without})"
    if pair == "으로/로" and final == _RIEUL:
        return without
    return with_final if final else without


def attach(term: str, pair: str) -> str:
    """``term`` followed by its particle: attach("개발", "을/를") == "개발을"."""
    return term + josa(term, pair)
