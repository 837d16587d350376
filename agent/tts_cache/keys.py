"""What an utterance is keyed by: the words as spoken and the exact voice that speaks them.

Never a question's row id: the same sentence in two interviews is one entry. Keys are SHA-256 hex
digests and are checked wherever they become part of a Redis key (or anything else), so a caller
cannot smuggle separators or path pieces in through a "key".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from agent.models.base import TextToSpeech
from agent.models.tts import MultiLanguageTTS, detect_language

PCM_FORMAT = "s16le"
"""Mono signed 16-bit little-endian samples: what every voice yields and what is stored."""

_KEY = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class CachedSpeech:
    pcm: bytes
    """Mono s16."""
    sample_rate: int

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError("sample_rate must be positive")

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


@dataclass(frozen=True, slots=True)
class VoiceSpec:
    """Everything besides the words that changes the audio."""

    engine: str
    model: str
    voice: str
    sample_rate: int
    format: str = PCM_FORMAT

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        for name in ("engine", "model", "format"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")


def normalize_text(text: str) -> str:
    """NFC (a Korean syllable typed as jamo and as one code point is one sentence) and single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def voice_of(tts: TextToSpeech, text: str) -> TextToSpeech:
    """The voice that will actually speak ``text``: a language router picks one per sentence."""
    if isinstance(tts, MultiLanguageTTS):
        return tts.voice(detect_language(text))
    return tts


def voice_spec(tts: TextToSpeech, text: str) -> VoiceSpec:
    voice = voice_of(tts, text)
    info = voice.info
    # The model's name and size, not its path: the same voice file installed in two places (two
    # hosts sharing one Redis) is the same voice.
    return VoiceSpec(
        engine=type(voice).__name__,
        model=f"{info.provider}/{info.name}/{info.size_bytes}",
        voice=str(info.details.get("voice", "")),
        sample_rate=voice.sample_rate,
    )


def utterance_key(text: str, spec: VoiceSpec) -> str:
    fields = (normalize_text(text), spec.engine, spec.model, spec.voice, str(spec.sample_rate), spec.format)
    # Length-prefixed fields: no choice of text can make two different tuples hash the same bytes.
    payload = b"".join(len(f.encode()).to_bytes(4, "big") + f.encode() for f in fields)
    return hashlib.sha256(payload).hexdigest()


def check_key(key: str) -> str:
    """``key`` if it is a digest made by :func:`utterance_key`, else ValueError."""
    if not _KEY.match(key):
        raise ValueError(f"not an utterance key: {key[:80]!r}")
    return key


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The Redis names of one utterance under a prefix (``tts`` in production, unique per test)."""

    prefix: str = "tts"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.prefix):
            raise ValueError("prefix must be 1-64 letters, digits, '_', '.' or '-'")

    def audio(self, key: str) -> str:
        return f"{self.prefix}:audio:{check_key(key)}"

    def lock(self, key: str) -> str:
        return f"{self.prefix}:lock:{check_key(key)}"

    def done(self, key: str) -> str:
        """The pub/sub channel a holder announces completion on."""
        return f"{self.prefix}:done:{check_key(key)}"

    @property
    def done_pattern(self) -> str:
        return f"{self.prefix}:done:*"

    def key_of_channel(self, channel: str) -> str | None:
        head = f"{self.prefix}:done:"
        if not channel.startswith(head):
            return None
        key = channel[len(head) :]
        return key if _KEY.match(key) else None
