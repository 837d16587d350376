"""Fakes for unit tests. Each subclasses the real base, so the public method's timeout, thread and
metrics code runs for real; only ``_impl`` is scripted."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from agent.errors import ModelError
from agent.models.base import (
    ChatLLM,
    ChatMessage,
    Completion,
    Embedder,
    EmbeddingKind,
    GenerationOptions,
    ModelInfo,
    Vectors,
)


def _info(role: str, name: str) -> ModelInfo:
    return ModelInfo(role=role, name=name, path="-", provider="tests", size_bytes=0)


class FakeLLM(ChatLLM):
    """Answers from a script: a fixed reply, a function of the messages, or an error."""

    def __init__(
        self,
        reply: str | dict[str, Any] | Callable[[list[ChatMessage]], str] = "{}",
        *,
        fail_with: Exception | None = None,
        delay_s: float = 0.0,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(_info("llm", "fake-llm"), timeout_s=timeout_s)
        self.reply = reply
        self.fail_with = fail_with
        self.delay_s = delay_s
        self.calls: list[list[ChatMessage]] = []

    def _complete_impl(
        self, messages: list[ChatMessage], schema: dict[str, Any] | None, options: GenerationOptions
    ) -> Completion:
        self.calls.append(messages)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        if callable(self.reply):
            text = self.reply(messages)
        elif isinstance(self.reply, dict):
            text = json.dumps(self.reply, ensure_ascii=False)
        else:
            text = self.reply
        return Completion(text=text, prompt_tokens=10, completion_tokens=10, seconds=0.0)


class FakeEmbedder(Embedder):
    """Deterministic bag-of-words vectors: texts sharing words are close, which is all retrieval
    tests need."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__(_info("embeddings", "fake-embedder"), timeout_s=5.0)
        self.fail = fail

    def _embed_impl(self, texts: list[str], kind: EmbeddingKind) -> Vectors:
        if self.fail:
            raise ModelError("embedder failed")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.casefold().split():
                bucket = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16) % self.dim
                out[row, bucket] += 1.0
            norm = float(np.linalg.norm(out[row])) or 1.0
            out[row] /= norm
        return out
