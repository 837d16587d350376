"""A Korean neural voice given by INTERVIEWER_TTS_KO_PATH loads through the registry and speaks
Korean in the call's router, in place of espeak-ng.

No Korean Piper voice ships in any installable package, so the test builds one: the packaged English
voice's network beside a config that makes it a Korean voice (Piper phonemizes with espeak-ng's
Korean rules, the phonemes the network knows are kept). What it says is not Korean speech; what is
tested is the path a real ``ko_KR-*.onnx`` takes: located from the setting, loaded by Piper, routed
for "ko", synthesizing Korean text, with digits and Latin terms written as Korean reads them first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.models.registry import ModelPaths, ModelRegistry, locate
from agent.models.tts import EspeakTTS, MultiLanguageTTS, PiperTTS

pytestmark = pytest.mark.slow


def _korean_voice(folder: Path, data_dir: Path) -> Path:
    english = Path(locate("tts", ModelPaths(data_dir=data_dir)).path)
    config = json.loads(english.with_suffix(".onnx.json").read_text(encoding="utf-8"))
    config["espeak"] = {"voice": "ko"}
    config["language"] = {"code": "ko_KR", "family": "ko", "region": "KR", "name_native": "한국어"}
    voice = folder / "ko_KR-test-medium.onnx"
    voice.symlink_to(english)
    voice.with_suffix(".onnx.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return voice


async def test_a_piper_korean_voice_from_the_setting_replaces_espeak(tmp_path: Path) -> None:
    voice_path = _korean_voice(tmp_path, tmp_path)
    registry = ModelRegistry(ModelPaths(data_dir=tmp_path, tts_ko_path=voice_path))
    try:
        await registry.preload(("tts",))
        tts = registry.tts
        assert isinstance(tts, MultiLanguageTTS)
        korean = tts.voice("ko")
        assert isinstance(korean, PiperTTS)
        assert not isinstance(korean, EspeakTTS)
        assert (korean.language, korean.info.role, korean.info.name) == ("ko", "tts_ko", "ko_KR-test-medium")
        assert tts.voice("en") is not korean
        clip = await tts.synthesize("안녕하세요. Redis로 응답 속도를 30% 개선하셨죠?", language="ko")
        samples = np.frombuffer(clip.pcm, dtype=np.int16)
        assert clip.sample_rate == korean.sample_rate
        assert 0.5 < clip.duration_s < 10.0
        assert np.abs(samples).max() > 1000
        # The router picks the Korean voice from the text alone, too.
        chunks = [c async for c in tts.stream("자기소개를 부탁드려요.")]
        assert chunks
        assert chunks[-1].final
    finally:
        registry.close()
