"""The bilingual 1.5B model (``INTERVIEWER_LLM_PATH=qwen2.5-coder-1.5b``), real, loaded once per session
(the ``qwen`` fixture of tests/conftest.py).

It is assembled from 22 packages into the data dir with a checksum, like Whisper base, and has to
do what SmolLM2 cannot: ask a follow-up that names what the candidate said, in English and in
Korean, and answer inside a JSON schema.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.models.assembly import QWEN_SHA256, QWEN_SIZE
from agent.models.base import ChatMessage, GenerationOptions
from agent.models.llm import LlamaCppLLM
from agent.models.registry import ModelPaths, locate

pytestmark = pytest.mark.slow

GREEDY = GenerationOptions(max_tokens=48, temperature=0.0, seed=0)
EN_ANSWER = (
    "Our checkout API had a p99 of 900 ms. I added a Redis cache in front of the pricing query and "
    "rewrote the query, and the p99 fell to 180 ms."
)
KO_ANSWER = (
    "결제 API의 응답 시간이 900밀리초였는데, 가격 조회 쿼리 앞에 Redis 캐시를 두고 쿼리를 다시 "
    "작성해서 180밀리초로 줄였습니다."
)


def test_assembled_once_with_its_checksum(qwen: LlamaCppLLM, qwen_paths: ModelPaths) -> None:
    model = Path(qwen.info.path)
    assert model.parent == qwen_paths.data_dir / "models"
    assert model.stat().st_size == QWEN_SIZE
    marker = json.loads(model.with_name(model.name + ".verified.json").read_text())
    assert marker["sha256"] == QWEN_SHA256
    before = model.stat()
    assert locate("llm", qwen_paths).path == str(model)  # a second locate joins nothing again
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


async def test_english_follow_up_names_what_the_candidate_said(qwen: LlamaCppLLM) -> None:
    completion = await qwen.complete(
        [
            ChatMessage(
                "system",
                "You are a job interviewer. Ask exactly one short follow-up question about a specific "
                "detail of the candidate's answer. Output only the question.",
            ),
            ChatMessage(
                "user", f"Question: Tell me about a performance problem you solved.\nAnswer: {EN_ANSWER}"
            ),
        ],
        options=GREEDY,
    )
    text = completion.text.strip()
    assert text.endswith("?"), text
    named = {
        t
        for t in ("checkout", "p99", "redis", "cache", "pricing", "query", "900", "180")
        if t in text.lower()
    }
    assert named, text


async def test_korean_follow_up_is_korean_and_names_the_answer(qwen: LlamaCppLLM) -> None:
    # A plain prompt makes it repeat the answer; one worked example makes it ask.
    completion = await qwen.complete(
        [
            ChatMessage(
                "system",
                "당신은 면접관입니다. 지원자의 답변에 나온 구체적인 내용을 짚어 꼬리 질문을 한국어로 "
                "한 문장만 하세요. 질문만 출력하세요.",
            ),
            ChatMessage("user", "답변: 배포 시간을 40분에서 10분으로 줄이려고 CI 캐시를 도입했습니다."),
            ChatMessage("assistant", "CI 캐시를 도입한 뒤 캐시가 깨졌을 때는 어떻게 대응하셨나요?"),
            ChatMessage("user", f"답변: {KO_ANSWER}"),
        ],
        options=GREEDY,
    )
    text = completion.text.strip()
    assert len(re.findall(r"[가-힣]", text)) >= 8, text
    assert text.endswith("?") or text.endswith("요"), text
    assert text != KO_ANSWER
    named = {t for t in ("결제", "Redis", "캐시", "쿼리", "가격", "180", "900") if t in text}
    assert named, text


async def test_answers_inside_a_json_schema(qwen: LlamaCppLLM) -> None:
    schema = {
        "type": "object",
        "properties": {"relevant": {"type": "boolean"}, "evidence": {"type": "string", "maxLength": 120}},
        "required": ["relevant", "evidence"],
        "additionalProperties": False,
    }
    completion = await qwen.complete(
        [
            ChatMessage(
                "system", "Does the answer address the question? Reply as JSON with a quote as evidence."
            ),
            ChatMessage("user", f"Question: How did you speed up the checkout API?\nAnswer: {EN_ANSWER}"),
        ],
        schema=schema,
        options=GenerationOptions(max_tokens=96, temperature=0.0, seed=0),
    )
    data = json.loads(completion.text)
    assert data["relevant"] is True, data
