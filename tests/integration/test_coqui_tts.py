"""The Coqui TTS backend on a real, tiny Coqui model that the test builds itself.

A VITS model with very small dimensions and random weights is saved as ``config.json`` plus
``model.pth`` (the layout of a user's Coqui model directory), then loaded through the registry's own
path for ``INTERVIEWER_TTS_KO_PATH`` and run by coqui-tts. Random weights produce noise: these tests
prove the plumbing (loading, streaming, sample rate, barge-in, errors), not voice quality.

Nothing is downloaded: the hub variables are set offline and the model comes from a temporary
directory. Where coqui-tts cannot be imported (the ``coqui`` extra missing, or torchaudio of another
build than torch), the synthesis tests skip with the reason and the loader is checked to say so.
"""

from __future__ import annotations

import asyncio
import importlib
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ModelUnavailableError
from agent.models.registry import ModelPaths, load_tts, locate
from agent.models.tts import CoquiTTS, MultiLanguageTTS

pytestmark = pytest.mark.slow

SAMPLE_RATE = 16_000
"""Not the base class's 22050 default: chunks must carry the model's own rate."""
ENGLISH = "Tell me about the last project you led, and what you would do differently."
KOREAN = "지난 프로젝트에서 맡으신 역할을 설명해 주세요. 가장 어려웠던 점은 무엇이었나요?"


def _coqui_unusable() -> str | None:
    """Why coqui-tts cannot run here, or None."""
    try:
        importlib.import_module("TTS.api")
    except (ImportError, OSError) as exc:
        return f"coqui-tts cannot be imported: {type(exc).__name__}: {exc}"
    return None


UNUSABLE = _coqui_unusable()
needs_coqui = pytest.mark.skipif(UNUSABLE is not None, reason=UNUSABLE or "")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")


def _build_tiny_vits(folder: Path) -> Path:
    """A randomly initialized VITS (about 0.4 M parameters) whose characters cover English letters,
    digits and every precomposed Hangul syllable; no phonemizer, so nothing beyond coqui-tts runs."""
    torch = importlib.import_module("torch")
    shared = importlib.import_module("TTS.config.shared_configs")
    tts_configs = importlib.import_module("TTS.tts.configs.shared_configs")
    vits_configs = importlib.import_module("TTS.tts.configs.vits_config")
    vits = importlib.import_module("TTS.tts.models.vits")

    hangul = "".join(chr(code) for code in range(0xAC00, 0xD7A4))
    args = vits_configs.VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_posterior_encoder=1,
        num_layers_flow=1,
        kernel_size_flow=3,
        resblock_type_decoder="2",
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3]],
        upsample_rates_decoder=[8, 8],  # their product is the hop length
        upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 16],
        use_sdp=False,
        init_discriminator=False,
        out_channels=129,  # fft_size // 2 + 1
    )
    audio = shared.BaseAudioConfig(
        sample_rate=SAMPLE_RATE,
        fft_size=256,
        win_length=256,
        hop_length=64,
        num_mels=20,
        do_trim_silence=False,
    )
    characters = tts_configs.CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters",
        characters=string.ascii_letters + string.digits + hangul,
        punctuations=" !,.?'-",
        pad="<PAD>",
        eos=None,
        bos=None,
        blank="<BLNK>",
        phonemes=None,
    )
    config = vits_configs.VitsConfig(
        model_args=args,
        audio=audio,
        use_phonemes=False,
        text_cleaner="multilingual_cleaners",
        characters=characters,
        add_blank=True,
        test_sentences=[],
    )
    torch.manual_seed(0)
    model = vits.Vits(config)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


@pytest.fixture(scope="module")
def coqui_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if UNUSABLE is not None:
        pytest.skip(UNUSABLE)
    return _build_tiny_vits(tmp_path_factory.mktemp("coqui") / "tiny-vits-ko")


@pytest.fixture(scope="module")
def router(coqui_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiLanguageTTS]:
    paths = ModelPaths(data_dir=tmp_path_factory.mktemp("data"), tts_ko_path=coqui_dir)
    tts = load_tts(paths)
    yield tts
    tts.close()


def _korean(router: MultiLanguageTTS) -> CoquiTTS:
    voice = router.voice("ko")
    assert isinstance(voice, CoquiTTS)
    return voice


@needs_coqui
def test_registry_loads_the_directory_as_the_korean_coqui_voice(
    router: MultiLanguageTTS, coqui_dir: Path
) -> None:
    voice = _korean(router)
    assert voice.model_dir == coqui_dir
    assert voice.sample_rate == SAMPLE_RATE
    assert voice.info.details["format"] == "coqui"
    assert voice.info.details["sample_rate"] == SAMPLE_RATE
    assert voice.info.load_s > 0
    assert voice.languages == frozenset({"ko"})
    # The English voice stays Piper's.
    assert router.voice("en") is not voice


@needs_coqui
@pytest.mark.parametrize("text", [KOREAN, ENGLISH], ids=["korean", "english"])
async def test_stream_yields_mono_s16_at_the_model_rate(router: MultiLanguageTTS, text: str) -> None:
    voice = _korean(router)
    chunks = [chunk async for chunk in router.stream(text, language="ko")]
    assert chunks
    assert {chunk.sample_rate for chunk in chunks} == {SAMPLE_RATE}
    assert all(len(chunk.pcm) % 2 == 0 and chunk.pcm for chunk in chunks)
    assert [chunk.final for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    # Slices of chunk_s: every chunk but each piece's last is exactly one slice long.
    assert max(len(chunk.pcm) for chunk in chunks) <= round(SAMPLE_RATE * voice.options.chunk_s) * 2
    seconds = sum(len(chunk.pcm) for chunk in chunks) / 2 / SAMPLE_RATE
    # Random durations, but each character gets at least a frame (64 samples): about 0.2 s at
    # least for these sentences, and far less than a minute.
    assert 0.2 < seconds < 60


@needs_coqui
async def test_cancelling_the_consumer_stops_synthesis_and_the_next_is_not_stuck(
    router: MultiLanguageTTS,
) -> None:
    voice = _korean(router)
    long_text = " ".join([KOREAN, ENGLISH] * 40)  # 160 pieces, synthesized one by one
    # Count the real model's calls (counted, not timed: the machine is shared and noisy).
    model: Any = voice._tts
    real_tts = model.tts
    calls = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_tts(*args, **kwargs)

    model.tts = counted
    try:
        whole = await voice.synthesize(long_text)
        pieces = calls
        assert pieces >= 100
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in voice.stream(long_text):
                first.set()
                await asyncio.sleep(3600)  # a listener that barged in

        calls = 0
        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # stream() returns only once its synthesis thread has ended: within a piece or so of the
        # cancel, not after the 160 pieces of the whole text.
        assert calls < pieces // 4, (calls, pieces)
        # The voice's thread is free: the next sentence is synthesized at once, alone.
        calls = 0
        audio = await asyncio.wait_for(voice.synthesize("네, 알겠습니다."), 30)
        assert calls == 1
        assert audio.sample_rate == SAMPLE_RATE
        assert 0 < len(audio.pcm) < len(whole.pcm) / 20
    finally:
        model.tts = real_tts


@needs_coqui
def test_nothing_is_downloaded(router: MultiLanguageTTS, coqui_dir: Path) -> None:
    api: Any = _korean(router)._tts
    # Loaded by path: no hub model name, and the checkpoint is the one the test wrote.
    assert api.model_name == ""
    assert Path(api.synthesizer.tts_checkpoint) == coqui_dir / "model.pth"
    assert sorted(p.name for p in coqui_dir.iterdir()) == ["config.json", "model.pth"]


def test_missing_directory_is_model_unavailable(tmp_path: Path) -> None:
    paths = ModelPaths(data_dir=tmp_path, tts_ko_path=tmp_path / "no-such-model")
    with pytest.raises(ModelUnavailableError, match="INTERVIEWER_TTS_KO_PATH"):
        locate("tts_ko", paths)
    with pytest.raises(ModelUnavailableError, match="not found"):
        load_tts(paths)


def test_directory_without_config_is_model_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "coqui"
    folder.mkdir()
    (folder / "model.pth").write_bytes(b"not read")
    paths = ModelPaths(data_dir=tmp_path, tts_ko_path=folder)
    with pytest.raises(ModelUnavailableError, match=r"has no config\.json"):
        load_tts(paths)
    with pytest.raises(ModelUnavailableError, match=r"has no config\.json"):
        CoquiTTS.load(info=locate("tts", ModelPaths(data_dir=tmp_path)), model_dir=folder, language="ko")


@pytest.mark.skipif(UNUSABLE is None, reason="coqui-tts imports here: the synthesis tests cover it")
def test_unusable_coqui_tts_is_model_unavailable_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "coqui"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelUnavailableError, match=r"pip install coqui-tts.*Error: "):
        load_tts(ModelPaths(data_dir=tmp_path, tts_ko_path=folder))
