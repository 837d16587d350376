"""llama.cpp chat model (llama-cpp-python), held to a JSON schema by a grammar when asked.

Two prompt paths, chosen by the GGUF itself: a model that ships a chat template (SmolLM2-Instruct)
goes through ``create_chat_completion``; a base model without one (Gemma 3 270M) gets a plain
few-shot prompt built by :func:`few_shot_prompt`, because llama-cpp-python would otherwise fall back
to the Llama-2 chat format, which a base model has never seen.
"""

from __future__ import annotations

import atexit
import json
import time
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agent.errors import ModelUnavailableError
from agent.models.base import ChatLLM, ChatMessage, Completion, GenerationOptions, ModelInfo

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar
    from llama_cpp.llama_types import (
        ChatCompletionRequestMessage,
        ChatCompletionRequestResponseFormat,
        CreateChatCompletionResponse,
        CreateCompletionResponse,
    )

# Labels of the few-shot prompt. A base model continues a document, so after its answer it tends
# to start the next example: stopping on the next label ends free-text answers there.
_INPUT_LABEL = "Input:"
_OUTPUT_LABEL = "Output:"
_FEW_SHOT_STOP = [f"\n{_INPUT_LABEL}", f"\n{_OUTPUT_LABEL}"]


def few_shot_prompt(messages: list[ChatMessage]) -> str:
    """Render chat messages as a plain completion prompt for a model without a chat template.

    System messages become the instructions at the top; user/assistant turns become
    ``Input:``/``Output:`` example pairs, so callers write few-shot examples as ordinary chat turns.
    The prompt ends with an open ``Output:`` for the model to complete.
    """
    instructions = [m.content.strip() for m in messages if m.role == "system"]
    lines: list[str] = []
    if instructions:
        lines.append("\n\n".join(instructions))
        lines.append("")
    for message in messages:
        if message.role == "user":
            lines.append(f"{_INPUT_LABEL} {message.content.strip()}")
        elif message.role == "assistant":
            lines.append(f"{_OUTPUT_LABEL} {message.content.strip()}")
            lines.append("")
    lines.append(_OUTPUT_LABEL)
    return "\n".join(lines)


@lru_cache(maxsize=32)
def _grammar_for(schema_json: str) -> LlamaGrammar:
    # Converting a schema to GBNF and parsing it costs milliseconds per call; the same few schemas
    # (plan, header, rubric) are used over and over. A LlamaGrammar only holds the GBNF text, so
    # one instance can serve many calls.
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


@cache
def _close_llama_devnull_at_exit() -> None:
    # llama-cpp-python opens two /dev/null files at import and never closes them; at interpreter
    # exit they raise ResourceWarning, printed as "Exception ignored" noise when warnings are errors
    # (the test suite). Nothing in the library touches them after a model is loaded, so closing
    # them at exit is safe.
    def close() -> None:
        from llama_cpp import _utils

        for name in ("outnull_file", "errnull_file"):
            file = getattr(_utils, name, None)
            if file is not None:
                file.close()

    atexit.register(close)


class LlamaCppLLM(ChatLLM):
    """A GGUF model run by llama.cpp on the CPU, one call at a time in the model's own thread.

    Build it with :meth:`load`; the constructor alone does not read the model file.
    """

    def __init__(
        self,
        *,
        info: ModelInfo,
        model_path: Path,
        n_ctx: int = 2048,
        n_threads: int = 1,
        timeout_s: float = 60,
    ) -> None:
        if n_ctx < 128:
            raise ValueError("n_ctx must be at least 128")
        if n_threads < 1:
            raise ValueError("n_threads must be at least 1")
        super().__init__(info, timeout_s=timeout_s)
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llm: Llama | None = None
        self._has_chat_template = False

    @classmethod
    def load(
        cls,
        *,
        info: ModelInfo,
        model_path: Path,
        n_ctx: int = 2048,
        n_threads: int = 1,
        timeout_s: float = 60,
    ) -> LlamaCppLLM:
        """Read the model, blocking the caller (call it from a worker thread in async code).

        The weights are loaded on the model's own executor thread, the one that later runs every
        completion: llama.cpp contexts are not meant to move between threads.
        """
        if not model_path.is_file():
            raise ModelUnavailableError(f"LLM model file not found: {model_path}")
        model = cls(info=info, model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, timeout_s=timeout_s)
        model._load_on_thread(
            f"LLM model {model_path}",
            lambda: {"n_ctx": n_ctx, "n_threads": n_threads, "chat_template": model._has_chat_template},
        )
        return model

    @property
    def has_chat_template(self) -> bool:
        return self._has_chat_template

    def _load_impl(self) -> None:
        from llama_cpp import Llama

        llm = Llama(
            model_path=str(self.model_path),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_threads_batch=self.n_threads,
            verbose=False,
        )
        self._has_chat_template = bool(llm.metadata.get("tokenizer.chat_template"))
        self._llm = llm
        _close_llama_devnull_at_exit()

    def _require(self) -> Llama:
        if self._llm is None:
            raise ModelUnavailableError(
                f"LLM {self.info.name} is not loaded (closed, or built without load())"
            )
        return self._llm

    def _complete_impl(
        self, messages: list[ChatMessage], schema: dict[str, Any] | None, options: GenerationOptions
    ) -> Completion:
        llm = self._require()
        start = time.perf_counter()
        if self._has_chat_template:
            text, prompt_tokens, completion_tokens = self._chat(llm, messages, schema, options)
        else:
            text, prompt_tokens, completion_tokens = self._few_shot(llm, messages, schema, options)
        return Completion(
            text=text.strip(),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=time.perf_counter() - start,
        )

    @staticmethod
    def _chat(
        llm: Llama, messages: list[ChatMessage], schema: dict[str, Any] | None, options: GenerationOptions
    ) -> tuple[str, int, int]:
        request = cast(
            "list[ChatCompletionRequestMessage]",
            [{"role": m.role, "content": m.content} for m in messages],
        )
        response_format: ChatCompletionRequestResponseFormat | None = None
        if schema is not None:
            response_format = {"type": "json_object", "schema": schema}
        # stream=False (the default) always returns the whole response, never an iterator.
        result = cast(
            "CreateChatCompletionResponse",
            llm.create_chat_completion(
                messages=request,
                response_format=response_format,
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                seed=options.seed,
            ),
        )
        text = result["choices"][0]["message"]["content"] or ""
        usage = result["usage"]
        return text, usage["prompt_tokens"], usage["completion_tokens"]

    @staticmethod
    def _few_shot(
        llm: Llama, messages: list[ChatMessage], schema: dict[str, Any] | None, options: GenerationOptions
    ) -> tuple[str, int, int]:
        grammar = _grammar_for(json.dumps(schema, sort_keys=True)) if schema is not None else None
        result = cast(
            "CreateCompletionResponse",
            llm.create_completion(
                few_shot_prompt(messages),
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                seed=options.seed,
                grammar=grammar,
                # A grammar ends the output itself; stop strings could cut a JSON string value.
                stop=None if grammar is not None else _FEW_SHOT_STOP,
            ),
        )
        text = result["choices"][0]["text"]
        usage = result.get("usage")
        if usage is None:
            return text, 0, 0
        return text, usage["prompt_tokens"], usage["completion_tokens"]

    def close(self) -> None:
        # Dropping the reference frees the weights once a call still running in the worker returns;
        # freeing them here could pull the model out from under that call.
        self._llm = None
        super().close()
