"""What a worker process needs to know, passed to it as one JSON environment variable.

Settings live in ``signaling`` (which evaluation never imports): whoever starts a worker (``serve``
for its local pool, ``interview worker`` on another machine) builds a :class:`WorkerConfig` from its
settings and hands it over through :data:`CONFIG_ENV`. Nothing is read at import time.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.models.registry import ModelPaths

CONFIG_ENV = "INTERVIEWER_EVAL_CONFIG"
QUEUE = "evaluation"
"""One queue for every evaluation task: a dedicated worker pool never competes with other queues."""


def celery_url(redis_url: str) -> str:
    """Celery's (kombu's) spelling of a Redis URL: a Unix socket is ``redis+socket://PATH``."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = f"?{parts.query}" if parts.query else ""
        return f"redis+socket://{parts.path}{query}"
    if parts.scheme in ("redis", "rediss"):
        return redis_url
    raise ValueError(f"unsupported Redis URL for Celery: {redis_url!r} (use redis://, rediss:// or unix://)")


@dataclass(frozen=True, slots=True)
class ScoringOptions:
    """How answers are scored; the same for every worker of a deployment."""

    llm_weight: float = 0.8
    """Share of each competency that comes from the LLM judge when its rating passed validation
    (a quote from the answer as evidence); the rest comes from measured features. The judge is the
    main signal: on answers whose length and markers do not give their quality away, features
    alone rank at chance (docs/performance.md)."""
    llm_max_tokens: int = 320
    """The judge's reply: two topic notes and five [rating, quote] pairs. The grammar bounds each
    string, so this only has to cover the longest reply it allows (Korean takes the most tokens); a
    cut reply would be invalid JSON."""
    llm_languages: tuple[str, ...] = ("en", "ko")
    """Answers in other languages are scored from features only."""
    rubric_models: tuple[str, ...] = ("smollm2", "gemma3-270m")
    """Models (by name prefix, any case) too small to judge: they fill the old single-quote rubric
    instead (English only), at ``rubric_weight``, and features carry the score."""
    rubric_weight: float = 0.25
    rubric_max_tokens: int = 96
    max_answer_chars: int = 100_000
    """Over an hour of speech: longer text is not an answer (recorded as failed with the reason)."""
    window_chars: int = 1_500
    """What the embedder and the LLM read of a long answer (a monologue of minutes): its first and
    last halves of this, so their cost is bounded whatever the length; the measured features
    (length, rate, structure, fillers) still read it all."""
    bank_threshold: float = 75.0
    """Answers scoring above this (0-100) go to the answer bank."""
    bank_duplicate_cosine: float = 0.95

    def uses_rubric(self, model_name: str) -> bool:
        """Whether ``model_name`` gets the small-model rubric rather than the judge."""
        name = model_name.casefold()
        return any(name.startswith(prefix.casefold()) for prefix in self.rubric_models)

    def __post_init__(self) -> None:
        if not 0.0 <= self.llm_weight <= 1.0 or not 0.0 <= self.rubric_weight <= 1.0:
            raise ValueError("llm_weight and rubric_weight must be within [0, 1]")
        if self.max_answer_chars < 1 or min(self.llm_max_tokens, self.rubric_max_tokens) < 8:
            raise ValueError("max_answer_chars must be positive and the token limits at least 8")
        if self.window_chars < 200:
            raise ValueError("window_chars must be at least 200")
        if not 0.0 < self.bank_duplicate_cosine <= 1.0:
            raise ValueError("bank_duplicate_cosine must be within (0, 1]")


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    broker_url: str
    """A Redis URL (``redis://`` or ``unix://``): broker and result backend both."""
    database_url: str
    model_paths: ModelPaths
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    report_cache_ttl_s: int = 1800
    max_retries: int = 3
    """Retries of a transient failure (database, Redis, model timeout) before the answer is failed."""
    retry_backoff_max_s: int = 30

    def __post_init__(self) -> None:
        celery_url(self.broker_url)
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")

    def to_json(self) -> str:
        def plain(value: Any) -> Any:
            return str(value) if isinstance(value, Path) else value

        data = dataclasses.asdict(self)
        data["model_paths"] = {k: plain(v) for k, v in data["model_paths"].items()}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        data = json.loads(text)
        paths = data.pop("model_paths")
        for key in ("data_dir", "llm_path", "embedding_path", "stt_path", "tts_voice_path", "tts_ko_path"):
            if paths.get(key) is not None:
                paths[key] = Path(paths[key])
        scoring = data.pop("scoring")
        # JSON has no tuples: every list of the options was a tuple.
        scoring = {k: tuple(v) if isinstance(v, list) else v for k, v in scoring.items()}
        return cls(model_paths=ModelPaths(**paths), scoring=ScoringOptions(**scoring), **data)

    @classmethod
    def from_env(cls) -> WorkerConfig:
        text = os.environ.get(CONFIG_ENV)
        if not text:
            raise RuntimeError(f"{CONFIG_ENV} is not set: start workers with 'interview worker'")
        return cls.from_json(text)
