"""Small text measures shared by the resume and plan code."""

from __future__ import annotations


def hangul_share(text: str) -> float:
    """Fraction of characters that are Hangul syllables (0 for empty text)."""
    if not text:
        return 0.0
    return sum("가" <= ch <= "힣" for ch in text) / len(text)


def fit_chars(text: str, latin_chars: int) -> str:
    """Cut ``text`` to about the same token cost as ``latin_chars`` of English: small models'
    tokenizers spend 2-3 tokens per Hangul syllable, about 4 characters per token on English."""
    head = text[:latin_chars]
    return text[: latin_chars // 3] if hangul_share(head) > 0.2 else head
