"""Text-to-speech voices: Piper (English, neural), espeak-ng (Korean fallback), Coqui (a user's model
directory), and a router that picks one per language.

Every voice synthesizes text piece by piece (see :func:`split_sentences`) and yields each piece's
audio as soon as it exists, so the first words play while the rest is still being synthesized.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from agent.errors import InvalidInputError, ModelError, ModelUnavailableError
from agent.models.base import AudioChunk, ModelInfo, TextToSpeech
from agent.text.korean import speakable

if TYPE_CHECKING:
    from piper import PiperVoice

# --- text ---------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"""[.!?…。！？]+["'”’)\]]*(?=\s|$)""")
_CLAUSE_END = re.compile(r"""[,;:，、]["'”’)\]]*(?=\s)|\s[-–—]\s""")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co"}
    | {"corp", "dept", "approx", "no", "fig", "u.s", "u.k", "a.m", "p.m"}
)
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")

FIRST_CLAUSE_MIN_WORDS = 10
"""A first sentence this long is spoken in two pieces, split at its first clause mark."""
CLAUSE_MIN_WORDS = 3
"""Neither side of such a split may be shorter: a one-word piece sounds clipped."""


def detect_language(text: str) -> str:
    """ "ko" when Hangul makes up a good part of the letters, else "en".

    Korean answers mix in English terms ("Python과 Django를 써 봤습니다"), so the test is a share of
    the letters, not the absence of Latin ones.
    """
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    return "ko" if hangul and hangul >= 0.3 * (hangul + latin) else "en"


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Pieces to synthesize one by one: sentences, with a long first sentence split at its first
    clause mark, so the first audio comes after a clause rather than a whole sentence."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if language == "en" and match.group().startswith(".") and _is_abbreviation(text, match.start()):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    sentences = [s for s in sentences if s]
    if sentences:
        sentences[:1] = _first_clause(sentences[0])
    return sentences


def _is_abbreviation(text: str, dot: int) -> bool:
    word = text[:dot].rsplit(maxsplit=1)[-1].lower() if text[:dot].strip() else ""
    word = word.lstrip("\"'(")
    # "J. Smith": a single capital letter before the dot is an initial.
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha() and text[dot - 1].isupper())


def _first_clause(sentence: str) -> list[str]:
    if len(sentence.split()) < FIRST_CLAUSE_MIN_WORDS:
        return [sentence]
    for match in _CLAUSE_END.finditer(sentence):
        head, tail = sentence[: match.end()].strip(), sentence[match.end() :].strip()
        if len(head.split()) >= CLAUSE_MIN_WORDS and len(tail.split()) >= CLAUSE_MIN_WORDS:
            return [head, tail]
    return [sentence]


# --- shared helpers --------------------------------------------------------------------------------


def _float_to_pcm(audio: Any) -> bytes:
    samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return (samples * 32767.0).astype(np.int16).tobytes()


def _slices(pcm: bytes, chunk_bytes: int, stop: threading.Event) -> Iterator[bytes]:
    """A piece's audio in smaller chunks.

    ``TextToSpeech.stream`` holds one chunk back (to mark the last one final), so a piece yielded
    whole would reach the listener only once the next piece is synthesized; in slices, all but its
    last slice go out at once.
    """
    for offset in range(0, len(pcm), chunk_bytes):
        if stop.is_set():
            return
        yield pcm[offset : offset + chunk_bytes]


def _chunk_bytes(sample_rate: int, chunk_s: float) -> int:
    if chunk_s <= 0:
        raise ValueError("chunk_s must be positive")
    return max(2, round(sample_rate * chunk_s)) * 2


# --- Piper ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PiperOptions:
    config_path: Path | None = None
    """The voice's ``.onnx.json``; None: next to the ``.onnx``."""
    threads: int = 1
    chunk_s: float = 0.25
    gap_s: float = 0.1
    timeout_s: float = 30

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.gap_s < 0:
            raise ValueError("gap_s must not be negative")


class PiperTTS(TextToSpeech):
    """A Piper voice (``.onnx`` with its ``.onnx.json``), run by onnxruntime on the CPU."""

    def __init__(self, *, info: ModelInfo, voice_path: Path, options: PiperOptions = PiperOptions()) -> None:
        super().__init__(info, timeout_s=options.timeout_s)
        self.voice_path = voice_path
        self.config_path = options.config_path or voice_path.with_suffix(".onnx.json")
        self.options = options
        self.language = "en"
        self._voice: PiperVoice | None = None

    @classmethod
    def load(cls, *, info: ModelInfo, voice_path: Path, options: PiperOptions = PiperOptions()) -> PiperTTS:
        """Read the voice, blocking the caller (call it from a worker thread in async code)."""
        for path in (voice_path, options.config_path or voice_path.with_suffix(".onnx.json")):
            if not path.is_file():
                raise ModelUnavailableError(f"Piper voice file not found: {path}")
        model = cls(info=info, voice_path=voice_path, options=options)
        model._load_on_thread(
            f"Piper voice {voice_path}",
            lambda: {"language": model.language, "sample_rate": model.sample_rate},
        )
        return model

    def _load_impl(self) -> None:
        # onnxruntime ships no type information, and the project's mypy settings do not list it.
        onnxruntime = importlib.import_module("onnxruntime")
        from piper import PiperVoice
        from piper.config import PiperConfig

        config = json.loads(self.config_path.read_text(encoding="utf-8"))
        options = onnxruntime.SessionOptions()
        # Piper's own loader leaves onnxruntime on every core; the STT and the LLM need theirs.
        options.intra_op_num_threads = self.options.threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(self.voice_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._voice = PiperVoice(session=session, config=PiperConfig.from_dict(config))
        self.sample_rate = int(config["audio"]["sample_rate"])
        self.language = _piper_language(config)
        self.languages = frozenset({self.language})

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        voice = self._voice
        if voice is None:
            raise ModelUnavailableError("Piper voice is not loaded: use PiperTTS.load")
        chunk_bytes = _chunk_bytes(self.sample_rate, self.options.chunk_s)
        gap = bytes(2 * round(self.options.gap_s * self.sample_rate))
        if self.language == "ko":
            # Piper phonemizes with espeak-ng, whose Korean rules switch to English for Latin words.
            text = speakable(text)
        for index, piece in enumerate(split_sentences(text, self.language)):
            if stop.is_set():
                return
            # Piper phonemizes the whole piece, then runs the model once per sentence in it.
            for sentence, audio in enumerate(voice.synthesize(piece)):
                pcm = audio.audio_int16_bytes
                yield from _slices(gap + pcm if index or sentence else pcm, chunk_bytes, stop)
                if stop.is_set():
                    return


def _piper_language(config: Mapping[str, Any]) -> str:
    code = config.get("language", {}).get("code") or config.get("espeak", {}).get("voice") or "en"
    return str(code).replace("_", "-").split("-")[0].lower()


# --- espeak-ng --------------------------------------------------------------------------------------


ESPEAK_KO_WPM = 150
"""Read back by Whisper base over eight interviewer lines (CER): 0.84-0.86 at 160 and 175 wpm, 0.80 at
150, while at 120 and 110 wpm Whisper falls into repetition loops. Whisper base barely understands
espeak-ng's Korean at any rate; a neural voice is the real fix (bench/korean_speech.py)."""
ESPEAK_CLAUSE_PAUSE_MS = 400
"""A break after a comma replaces espeak-ng's own (~0.2 s at 140 wpm): a clause then ends audibly."""


@dataclass(frozen=True, slots=True)
class EspeakOptions:
    voice: str = "ko"
    executable: str = "espeak-ng"
    """A program name or path; :meth:`EspeakTTS.load` resolves it on PATH."""
    words_per_minute: int = ESPEAK_KO_WPM
    chunk_s: float = 0.25
    timeout_s: float = 10
    speak_korean: bool = True
    clause_pause_ms: int = ESPEAK_CLAUSE_PAUSE_MS

    def __post_init__(self) -> None:
        if not 80 <= self.words_per_minute <= 450:
            raise ValueError("words_per_minute must be within [80, 450]")
        if not 0 <= self.clause_pause_ms <= 2000:
            raise ValueError("clause_pause_ms must be within [0, 2000]")


class EspeakTTS(TextToSpeech):
    """The Debian ``espeak-ng`` program, one process per call: robotic, but any language and ~10 ms
    a sentence. The Korean voice until a neural one is configured (``INTERVIEWER_TTS_KO_PATH``: a
    Piper Korean ``.onnx`` with its ``.onnx.json``, or a Coqui model directory).

    For Korean, ``speak_korean`` writes digits, units and Latin terms as Korean reads them before
    synthesis (espeak-ng's Korean voice switches to English for every Latin word and reads "%" in
    English), and ``clause_pause_ms`` adds a pause after each clause mark.
    """

    def __init__(self, *, info: ModelInfo, options: EspeakOptions = EspeakOptions()) -> None:
        super().__init__(info, timeout_s=options.timeout_s)
        self.options = options
        self.languages = frozenset({options.voice.split("-")[0].lower()})
        self.speak_korean = options.speak_korean and "ko" in self.languages

    @classmethod
    def load(cls, *, info: ModelInfo, options: EspeakOptions = EspeakOptions()) -> EspeakTTS:
        """Find the program and check the voice with one short synthesis (blocking, ~10 ms)."""
        found = shutil.which(options.executable)
        if found is None:
            raise ModelUnavailableError(
                f"{options.executable} not found: install the Debian package espeak-ng "
                "(apt-get install espeak-ng)"
            )
        model = cls(info=info, options=replace(options, executable=found))
        voice = options.voice
        start = time.perf_counter()
        if not _espeak_has_voice(found, voice):
            model.close()
            # espeak-ng itself would fall back to its default voice without a word.
            raise ModelUnavailableError(f"espeak-ng has no voice {voice!r} (see espeak-ng --voices)")
        try:
            probe = b"".join(model._synthesize_impl("1", threading.Event()))
        except ModelError as exc:
            model.close()
            raise ModelUnavailableError(f"espeak-ng voice {voice!r} does not work: {exc.message}") from exc
        if not probe:
            model.close()
            raise ModelUnavailableError(f"espeak-ng voice {voice!r} produced no audio")
        model.info = replace(
            info,
            load_s=time.perf_counter() - start,
            details={**info.details, "voice": voice, "sample_rate": model.sample_rate},
        )
        return model

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        text = " ".join(text.split())
        if not text:
            return
        o = self.options
        command = [o.executable, "-v", o.voice, "-s", str(o.words_per_minute), "--stdout", "--stdin"]
        text = self.prepare(text)
        if o.clause_pause_ms:
            command.insert(1, "-m")  # SSML: the pauses are <break> marks
        # Text on stdin, never argv: a text starting with "-" would be read as an option.
        rate: int | None = None
        finished = False
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as process:
            assert process.stdin is not None
            assert process.stdout is not None
            assert process.stderr is not None
            try:
                # espeak-ng reads all of stdin before it writes anything, so this cannot deadlock.
                process.stdin.write(text.encode("utf-8"))
                process.stdin.close()
                rate = _read_wav_header(process.stdout)
                if rate is not None:
                    self.sample_rate = rate
                    chunk_bytes = _chunk_bytes(rate, o.chunk_s)
                    while not stop.is_set():
                        block = process.stdout.read(chunk_bytes)
                        if not block:
                            break
                        yield block[: len(block) - len(block) % 2]
                finished = not stop.is_set()
            finally:
                # Stopped (barge-in) or failed half-way: end the process now rather than let it
                # finish a long text nobody will hear; either way it is reaped, never a zombie.
                if not finished and process.poll() is None:
                    process.kill()
                returncode = process.wait()
                error = process.stderr.read().decode("utf-8", "replace").strip()
        if not finished:
            return
        if returncode != 0:
            raise ModelError(f"espeak-ng exited with {returncode}: {error or 'no message'}")
        if rate is None:
            raise ModelError(f"espeak-ng wrote no WAV audio: {error or 'no message'}")

    def prepare(self, text: str) -> str:
        """The text espeak-ng is given: Korean readings, and SSML pauses after clause marks."""
        if self.speak_korean:
            text = speakable(text)
        if not self.options.clause_pause_ms:
            return text
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        pause = f'<break time="{self.options.clause_pause_ms}ms"/>'
        # After commas only: at a sentence end espeak-ng's own pause is longer than the break, which
        # would replace it. (Not ";" either: the escapes above end in one.)
        return re.sub(r"([,，:])(?=\s)", lambda m: m.group(1) + pause, escaped)


def _espeak_has_voice(executable: str, voice: str) -> bool:
    listing = subprocess.run(
        [executable, "--voices"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    known: set[str] = set()
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 5:
            # Language, voice name and voice file all select a voice with -v.
            known.update((columns[1], columns[3], columns[4]))
    return voice.split("+")[0] in known


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        block = stream.read(size - len(data))
        if not block:
            return None
        data += block
    return data


def _read_wav_header(stream: IO[bytes]) -> int | None:
    """Read a streamed WAV header up to the data chunk; return the sample rate.

    espeak-ng writes to a pipe, so the sizes in the header are placeholders: the audio runs to the
    end of the stream. Only mono 16-bit PCM is accepted.
    """
    riff = _read_exact(stream, 12)
    if riff is None or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        return None
    rate: int | None = None
    while True:
        head = _read_exact(stream, 8)
        if head is None:
            return None
        chunk_id, size = head[:4], int.from_bytes(head[4:8], "little")
        if chunk_id == b"data":
            return rate
        body = _read_exact(stream, size + size % 2)
        if body is None:
            return None
        if chunk_id == b"fmt ":
            audio_format, channels = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
            bits = int.from_bytes(body[14:16], "little")
            if (audio_format, channels, bits) != (1, 1, 16):
                found = f"format {audio_format}, {channels} channels, {bits} bits"
                raise ModelError(f"espeak-ng wrote {found}, not 16-bit mono PCM")
            rate = int.from_bytes(body[4:8], "little")


# --- Coqui ------------------------------------------------------------------------------------------

_COQUI_CHECKPOINTS = ("model.pth", "best_model.pth", "model_file.pth", "checkpoint.pth")


@dataclass(frozen=True, slots=True)
class CoquiOptions:
    speaker: str | None = None
    speaker_wav: Path | None = None
    chunk_s: float = 0.25
    timeout_s: float = 60


class CoquiTTS(TextToSpeech):
    """A Coqui TTS model directory (``config.json`` plus a checkpoint; XTTS v2 or a VITS model), run by
    the optional ``coqui`` extra: coqui-tts, which needs torch, torchaudio and torchcodec of one build.
    Nothing is downloaded: only a local directory is accepted."""

    def __init__(
        self, *, info: ModelInfo, model_dir: Path, language: str, options: CoquiOptions = CoquiOptions()
    ) -> None:
        super().__init__(info, timeout_s=options.timeout_s)
        self.model_dir = model_dir
        self.language = language
        self.options = options
        self.languages = frozenset({language})
        self._tts: Any = None

    @classmethod
    def load(
        cls, *, info: ModelInfo, model_dir: Path, language: str, options: CoquiOptions = CoquiOptions()
    ) -> CoquiTTS:
        """Load the model on the CPU (blocking). ``coqui-tts`` missing is a ModelUnavailableError."""
        if not (model_dir / "config.json").is_file():
            raise ModelUnavailableError(f"Coqui TTS model directory {model_dir} has no config.json")
        model = cls(info=info, model_dir=model_dir, language=language, options=options)
        model._load_on_thread(
            f"Coqui TTS model {model_dir}", lambda: {"language": language, "sample_rate": model.sample_rate}
        )
        return model

    def _load_impl(self) -> None:
        try:
            # Through importlib: the optional package is absent from most installs, type checks included.
            coqui = importlib.import_module("TTS.api")
        except (ImportError, OSError) as exc:
            # OSError: torchaudio's native library fails to load, e.g. PyPI's CUDA build of torchaudio
            # next to a CPU build of torch. coqui-tts needs torch, torchaudio and torchcodec of one build.
            raise ModelUnavailableError(
                "the Coqui TTS backend needs the optional package coqui-tts (pip install coqui-tts, the "
                "extra coqui) with torch, torchaudio and torchcodec of one build: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        checkpoint = next(
            (self.model_dir / name for name in _COQUI_CHECKPOINTS if (self.model_dir / name).is_file()),
            None,
        )
        # XTTS loads from its directory; single-file models (VITS) from their checkpoint.
        model_path = checkpoint if checkpoint is not None else self.model_dir
        self._tts = coqui.TTS(
            model_path=str(model_path), config_path=str(self.model_dir / "config.json"), progress_bar=False
        )
        self.sample_rate = int(self._tts.synthesizer.output_sample_rate)

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        if self._tts is None:
            raise ModelUnavailableError("Coqui TTS model is not loaded: use CoquiTTS.load")
        options: dict[str, Any] = {}
        if getattr(self._tts, "is_multi_lingual", False):
            options["language"] = self.language
        if self.options.speaker is not None:
            options["speaker"] = self.options.speaker
        if self.options.speaker_wav is not None:
            options["speaker_wav"] = str(self.options.speaker_wav)
        chunk_bytes = _chunk_bytes(self.sample_rate, self.options.chunk_s)
        for piece in split_sentences(text, self.language):
            if stop.is_set():
                return
            # Already one sentence or clause: Coqui's own splitter (pySBD, English rules for Korean)
            # would only add its latency.
            audio = self._tts.tts(text=piece, split_sentences=False, **options)
            yield from _slices(_float_to_pcm(audio), chunk_bytes, stop)


# --- routing ----------------------------------------------------------------------------------------


class MultiLanguageTTS(TextToSpeech):
    """One voice per language behind the ``TextToSpeech`` interface.

    :meth:`stream` takes the language from the caller, or guesses it from the text
    (:func:`detect_language`). Chunks carry their voice's own sample rate.
    """

    def __init__(self, voices: Mapping[str, TextToSpeech], *, default: str = "en") -> None:
        if default not in voices:
            raise ValueError(f"default language {default!r} has no voice")
        infos = [voice.info for voice in voices.values()]
        info = ModelInfo(
            role="tts",
            name="+".join(dict.fromkeys(i.name for i in infos)),
            path=infos[0].path,
            provider="+".join(dict.fromkeys(i.provider for i in infos)),
            size_bytes=sum(i.size_bytes for i in infos),
            load_s=sum(i.load_s for i in infos),
            details={"voices": {language: voice.info.name for language, voice in voices.items()}},
        )
        super().__init__(info, timeout_s=max(voice.timeout_s for voice in voices.values()))
        self.voices = dict(voices)
        self.default = default
        self.languages = frozenset(voices)
        self.sample_rate = voices[default].sample_rate

    def voice(self, language: str | None = None) -> TextToSpeech:
        """The voice for ``language`` (the default voice when None)."""
        chosen = self.voices.get(language or self.default)
        if chosen is None:
            raise InvalidInputError(f"no TTS voice for language {language!r}; have {', '.join(self.voices)}")
        return chosen

    async def stream(
        self, text: str, *, language: str | None = None, urgent: bool = True
    ) -> AsyncIterator[AudioChunk]:
        async for chunk in self.voice(language or detect_language(text)).stream(text, urgent=urgent):
            yield chunk

    async def synthesize(self, text: str, *, language: str | None = None) -> AudioChunk:
        return await self.voice(language or detect_language(text)).synthesize(text)

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        # Only reached through the base class's machinery, which this class bypasses in stream();
        # delegating keeps the object usable there all the same.
        return self.voice(detect_language(text))._synthesize_impl(text, stop)

    def close(self) -> None:
        for voice in self.voices.values():
            voice.close()
        super().close()


def voices_of(tts: TextToSpeech) -> Iterable[TextToSpeech]:
    """The voices behind a router, or the voice itself."""
    return tts.voices.values() if isinstance(tts, MultiLanguageTTS) else (tts,)
