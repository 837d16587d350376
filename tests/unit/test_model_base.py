"""The public model methods own timeouts and error translation; fakes prove it."""

from __future__ import annotations

import pytest

from agent.errors import ModelError, ModelTimeoutError
from agent.models.base import ChatMessage, GenerationOptions
from tests.fakes import FakeEmbedder, FakeLLM

MSG = [ChatMessage("user", "hi")]


async def test_llm_timeout_is_a_domain_error() -> None:
    llm = FakeLLM("{}", delay_s=0.5, timeout_s=0.05)
    with pytest.raises(ModelTimeoutError) as info:
        await llm.complete(MSG)
    assert info.value.retryable
    llm.close()


async def test_library_errors_are_translated_at_the_edge() -> None:
    llm = FakeLLM(fail_with=RuntimeError("llama exploded"))
    with pytest.raises(ModelError, match="llama exploded"):
        await llm.complete(MSG)
    llm.close()


async def test_embedder_shape_checked() -> None:
    emb = FakeEmbedder()
    vectors = await emb.embed(["a b", "c"], "passage")
    assert vectors.shape == (2, 384)
    assert (await emb.embed([], "query")).shape == (0, 384)
    emb.close()


def test_generation_options_validated() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        GenerationOptions(max_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        GenerationOptions(temperature=3.0)


async def test_empty_messages_rejected() -> None:
    llm = FakeLLM()
    with pytest.raises(ValueError, match="empty"):
        await llm.complete([])
    llm.close()
