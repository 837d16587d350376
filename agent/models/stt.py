"""Whisper speech-to-text through faster-whisper (CTranslate2), greedy and without fallbacks.

Every call costs a fixed floor (~0.7-1.0 s for Whisper base on one core): the encoder always runs on a
30 s window, however short the audio. :mod:`agent.models.transcriber` hides that floor during a turn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.errors import InvalidInputError, ModelUnavailableError
from agent.models.base import (
    ModelInfo,
    Pcm16,
    SpeechToText,
    Transcript,
    TranscriptSegment,
    TranscriptWord,
)
from agent.text.repetition import collapse_in_token, kept_indices

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

_INT16_SCALE = 32768.0


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    compute_type: str = "int8"
    cpu_threads: int = 1
    word_timestamps: bool = True
    """Costs ~0.05-0.1 s a call (a cross-attention alignment pass) and buys segment and word times
    to ~0.1 s; without it Whisper base rounds segment ends to whole seconds, too coarse to cut
    audio at."""
    timeout_s: float = 30
    workers: int = 1
    """Calls served at once, each on its own thread with ``cpu_threads`` (CTranslate2 runs them in
    parallel): with several rooms, two rooms' final transcripts no longer wait for each other on a
    2-core machine."""

    def __post_init__(self) -> None:
        if self.cpu_threads < 1:
            raise ValueError("cpu_threads must be at least 1")


class FasterWhisperSTT(SpeechToText):
    """A CTranslate2 Whisper model directory (``model.bin``, ``config.json``, ``tokenizer.json``).

    Build it with :meth:`load`; the constructor alone does not read the model.
    """

    def __init__(
        self, *, info: ModelInfo, model_dir: Path, options: WhisperOptions = WhisperOptions()
    ) -> None:
        super().__init__(info, timeout_s=options.timeout_s, workers=options.workers)
        self.model_dir = model_dir
        self.options = options
        self.languages: frozenset[str] = frozenset()
        """Filled by :meth:`load`: every Whisper language, or only "en" for an ``.en`` model."""
        self._model: WhisperModel | None = None

    @classmethod
    def load(
        cls, *, info: ModelInfo, model_dir: Path, options: WhisperOptions = WhisperOptions()
    ) -> FasterWhisperSTT:
        """Read the model, blocking the caller (call it from a worker thread in async code)."""
        if not (model_dir / "model.bin").is_file():
            raise ModelUnavailableError(f"STT model directory {model_dir} has no CTranslate2 model.bin")
        model = cls(info=info, model_dir=model_dir, options=options)
        model._load_on_thread(
            f"STT model {model_dir}",
            lambda: {
                "compute_type": options.compute_type,
                "cpu_threads": options.cpu_threads,
                "workers": options.workers,
                "word_timestamps": options.word_timestamps,
                "multilingual": len(model.languages) > 1,
            },
        )
        return model

    def _load_impl(self) -> None:
        # faster-whisper pulls in ctranslate2, tokenizers and av: imported here, not at module import.
        from faster_whisper import WhisperModel

        # A directory path never reaches the Hugging Face download code.
        whisper = WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type=self.options.compute_type,
            cpu_threads=self.options.cpu_threads,
            num_workers=self.options.workers,
            local_files_only=True,
        )
        self.languages = frozenset(whisper.supported_languages)
        self._model = whisper

    async def transcribe(
        self, audio: Pcm16, *, language: str | None = None, prompt: str | None = None, urgent: bool = True
    ) -> Transcript:
        # Checked here rather than in the worker thread: a bad language is the caller's mistake, and
        # raised inside the thread it would come back as a retryable ModelError.
        if language is not None and self.languages and language not in self.languages:
            supported = "English only" if self.languages == {"en"} else f"{len(self.languages)} languages"
            raise InvalidInputError(
                f"STT model {self.info.name} cannot transcribe {language!r} ({supported})"
            )
        return await super().transcribe(audio, language=language, prompt=prompt, urgent=urgent)

    def _transcribe_impl(self, audio: Pcm16, language: str | None, prompt: str | None) -> Transcript:
        if self._model is None:
            raise ModelUnavailableError("STT model is not loaded: use FasterWhisperSTT.load")
        if len(audio) == 0:
            return Transcript(text="", language=language or "", segments=(), audio_s=0.0, seconds=0.0)
        start = time.perf_counter()
        audio_s = len(audio) / self.sample_rate
        # Whisper sees only up to the end of the voice: trailing noise or a quiet line is where it
        # invents words or falls into a repetition loop ("자, 자, 자, ..." on a Korean phone call).
        voiced = audio[: voiced_end(audio, self.sample_rate)]
        samples = voiced.astype(np.float32) / _INT16_SCALE
        # Greedy at one temperature: the fallback ladder re-decodes up to five times on hard audio,
        # which turns a 1 s call into 5 s in the middle of a conversation. Earlier text comes in as
        # the prompt from the caller, so Whisper's own conditioning stays off (conditioning on its own
        # output is what lets one repeated phrase feed the next window). A segment that Whisper scores
        # as no speech with a low log-probability is dropped (its thresholds, stated here because the
        # loop guard depends on them).
        segments, info = self._model.transcribe(
            samples,
            language=language,
            beam_size=1,
            temperature=0,
            condition_on_previous_text=False,
            # A loop otherwise decodes to the 448-token end of the window: 17 s instead of 1.8 s
            # for a 6 s Korean clip on a loaded core (bench/korean_speech.py). Speech is at most
            # ~15 tokens a second (Korean syllables are one or two tokens each).
            max_new_tokens=token_budget(len(voiced) / self.sample_rate, self._prompt_tokens(prompt)),
            compression_ratio_threshold=2.4,
            log_prob_threshold=-1.0,
            no_speech_threshold=0.6,
            vad_filter=False,
            without_timestamps=False,
            initial_prompt=prompt or None,
            word_timestamps=self.options.word_timestamps,
        )
        # A lazy generator: the decoding happens while it is consumed, inside this thread.
        voiced_s = len(voiced) / self.sample_rate
        found: list[TranscriptSegment] = []
        for segment in segments:
            if segment.text.strip():
                found.append(_segment(segment, audio_s))
            if segment.end >= voiced_s - _END_SLACK_S:
                # The audio is covered. What the generator would decode next is another pass over
                # the window's tail: measured 10 s more on a looping clip, for no words.
                break
        parts = collapse_loops(tuple(found))
        return Transcript(
            text=" ".join(p.text for p in parts),
            language=str(info.language),
            segments=parts,
            audio_s=audio_s,
            seconds=time.perf_counter() - start,
        )

    def _prompt_tokens(self, prompt: str | None) -> int:
        """Tokens Whisper's decoder starts from: the previous-text marker and the prompt's last 223
        tokens (faster-whisper keeps no more), then start, language and task."""
        if not prompt or self._model is None:
            return _START_TOKENS
        ids = self._model.hf_tokenizer.encode(" " + prompt.strip(), add_special_tokens=False).ids
        return _START_TOKENS + 1 + min(len(ids), _MAX_PROMPT_TOKENS)


_START_TOKENS = 3
_END_SLACK_S = 0.1
_MAX_PROMPT_TOKENS = 223
_WINDOW_TOKENS = 448


def _segment(segment: Any, audio_s: float) -> TranscriptSegment:
    # Whisper may place a last timestamp past the end of the audio it was given.
    words = tuple(
        TranscriptWord(start_s=float(w.start), end_s=min(float(w.end), audio_s), text=str(w.word))
        for w in (segment.words or ())
    )
    return TranscriptSegment(
        start_s=float(segment.start),
        end_s=min(float(segment.end), audio_s),
        text=str(segment.text).strip(),
        words=words,
    )


_TOKENS_PER_S = 20


def token_budget(audio_s: float, prompt_tokens: int = _START_TOKENS) -> int:
    """Most tokens one window may decode for ``audio_s`` of speech: room for fast speech, none for
    a repetition loop. Prompt and output share Whisper's 448-token window (a longer request is
    an error, not a cut)."""
    room = _WINDOW_TOKENS - prompt_tokens - 1
    return max(1, int(min(room, 10 + _TOKENS_PER_S * audio_s)))


_FRAME_S = 0.02
_QUIET_DB = -30.0
"""A frame this far below the loudest frame of the clip is no longer voice: Whisper base transcribes
a clip's last syllable fine with 0.3 s after it, and tail noise 30 dB down is what it loops on."""
_TAIL_KEEP_S = 0.3
_MIN_TRIM_S = 0.5


def voiced_end(audio: Pcm16, sample_rate: int) -> int:
    """The sample after which only quiet audio follows (plus a margin for a trailing consonant);
    ``len(audio)`` when the tail is not quiet for at least half a second."""
    frame = max(1, round(_FRAME_S * sample_rate))
    count = len(audio) // frame
    if count == 0:
        return len(audio)
    frames = audio[: count * frame].astype(np.float32).reshape(count, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = float(rms.max())
    if loud <= 0:
        return len(audio)
    above = np.nonzero(rms >= loud * 10 ** (_QUIET_DB / 20))[0]
    end = (int(above[-1]) + 1) * frame + round(_TAIL_KEEP_S * sample_rate)
    return end if len(audio) - end >= round(_MIN_TRIM_S * sample_rate) else len(audio)


def _collapse_tokens(part: TranscriptSegment) -> TranscriptSegment:
    """One segment with loops inside a token ("3,4,4,4,4,4,...") kept once."""
    words = tuple(TranscriptWord(w.start_s, w.end_s, collapse_in_token(w.text)) for w in part.words)
    text = " ".join(collapse_in_token(t) for t in part.text.split())
    if text == " ".join(part.text.split()) and words == part.words:
        return part
    return TranscriptSegment(part.start_s, part.end_s, text, words)


def collapse_loops(parts: tuple[TranscriptSegment, ...]) -> tuple[TranscriptSegment, ...]:
    """The segments with Whisper's repetition loops kept once, across segment boundaries (a loop
    often comes out as one short segment after another)."""
    if not parts:
        return parts
    collapsed = tuple(_collapse_tokens(p) for p in parts)
    changed = any(a is not b for a, b in zip(collapsed, parts, strict=True))
    parts = collapsed if changed else parts
    if all(p.words for p in parts):
        flat = [(index, word) for index, part in enumerate(parts) for word in part.words]
        keep = set(kept_indices([word.text for _, word in flat]))
        if len(keep) == len(flat):
            return parts
        out: list[TranscriptSegment] = []
        for index in range(len(parts)):
            words = tuple(w for i, (owner, w) in enumerate(flat) if owner == index and i in keep)
            if words:
                text = "".join(w.text for w in words).strip()
                out.append(TranscriptSegment(words[0].start_s, words[-1].end_s, text, words))
        return tuple(out)
    tokens = [(index, token) for index, part in enumerate(parts) for token in part.text.split()]
    keep = set(kept_indices([token for _, token in tokens]))
    if len(keep) == len(tokens):
        return parts
    out = []
    for index, part in enumerate(parts):
        text = " ".join(t for i, (owner, t) in enumerate(tokens) if owner == index and i in keep)
        if text:
            out.append(TranscriptSegment(part.start_s, part.end_s, text, ()))
    return tuple(out)
