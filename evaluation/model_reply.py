"""One question to an evaluation model under a JSON schema, and its reply checked.

The judge and the rubric model fail alike: a timeout is transient and propagates so the task
retries; any other model failure, or a reply its check refuses, is returned as the reason it was
rejected, so scoring falls back to the measured features.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from agent.errors import InterviewerError, ModelTimeoutError
from agent.models.base import ChatLLM, ChatMessage, GenerationOptions

T = TypeVar("T")

REJECTED_MAX_CHARS = 300
"""The reason is stored with the scores and shown to reviewers: a line, not a whole reply."""


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    value: T | None
    """What ``check`` made of the reply (None when rejected)."""
    rejected: str | None
    """Why the model's output was not used (None when it was)."""
    seconds: float = 0.0


async def ask_checked(
    llm: ChatLLM,
    messages: Sequence[ChatMessage],
    *,
    schema: dict[str, object],
    max_tokens: int,
    check: Callable[[str], T],
    log: logging.Logger,
    what: str,
) -> Reply[T]:
    """Ask at temperature 0 with a fixed seed, so the same answer gets the same reply; ``check``
    raises ValueError with the reason when the reply is unusable. ``what`` names the model in the
    warning ``log`` gets on a failed call."""
    try:
        completion = await llm.complete(
            messages,
            schema=schema,
            options=GenerationOptions(max_tokens=max_tokens, temperature=0.0, seed=0),
        )
    except ModelTimeoutError:
        raise
    except InterviewerError as exc:
        log.warning("%s model call failed: %s", what, exc)
        return Reply(None, f"model error: {exc.message}"[:REJECTED_MAX_CHARS])
    try:
        value = check(completion.text)
    except ValueError as exc:
        return Reply(None, f"invalid model output: {exc}"[:REJECTED_MAX_CHARS])
    return Reply(value, None, round(completion.seconds, 3))
