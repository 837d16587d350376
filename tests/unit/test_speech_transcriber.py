"""IncrementalTranscriber against a scripted STT that "hears" the words of a timeline.

The fake audio is a ramp that encodes its own position (one step per millisecond), so the fake
knows which stretch of the stream each call was given and answers with the words inside it, timed
relative to the buffer, the way Whisper would.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from agent.models.base import ModelInfo, Pcm16, SpeechToText, Transcript, TranscriptSegment, TranscriptWord
from agent.models.transcriber import IncrementalTranscriber, TranscriberOptions

RATE = 16_000
FRAME = 320  # 20 ms

Word = tuple[float, float, str, int]
"""start s, end s, text, segment number"""


def _script(*segments: str, start_s: float = 0.3, word_s: float = 0.4, pause_s: float = 0.6) -> list[Word]:
    words: list[Word] = []
    at = start_s
    for number, text in enumerate(segments):
        for token in text.split():
            words.append((at, at + word_s - 0.05, token, number))
            at += word_s
        at += pause_s
    return words


def _stream(seconds: float) -> Pcm16:
    index = np.arange(round(seconds * RATE))
    return ((index // (RATE // 1000)) % 32_768).astype(np.int16)


class ScriptedSTT(SpeechToText):
    """Returns the words whose middle lies inside the audio it is given."""

    def __init__(
        self,
        words: list[Word],
        *,
        language: str = "en",
        delay_s: float = 0.0,
        workers: int = 1,
        gate: threading.Event | None = None,
    ) -> None:
        super().__init__(
            ModelInfo(role="stt", name="scripted", path="-", provider="tests", size_bytes=0),
            timeout_s=5,
            workers=workers,
        )
        self.words = words
        self.language = language
        self.delay_s = delay_s
        self.gate = gate
        """The first call blocks until this is set (an update still running when the final starts)."""
        self.calls: list[tuple[float, float, str | None, str | None]] = []
        """(buffer start s, buffer length s, language, prompt) per call"""

    def _transcribe_impl(self, audio: Pcm16, language: str | None, prompt: str | None) -> Transcript:
        if self.gate is not None:
            gate, self.gate = self.gate, None
            gate.wait(5)
        if self.delay_s:
            time.sleep(self.delay_s)
        offset_s = int(audio[0]) / 1000 if len(audio) else 0.0
        length_s = len(audio) / RATE
        self.calls.append((offset_s, length_s, language, prompt))
        heard = [w for w in self.words if offset_s <= (w[0] + w[1]) / 2 < offset_s + length_s]
        segments: list[TranscriptSegment] = []
        for number in sorted({w[3] for w in heard}):
            words = tuple(
                TranscriptWord(max(s - offset_s, 0.0), min(e - offset_s, length_s), f" {t}")
                for s, e, t, n in heard
                if n == number
            )
            text = "".join(w.text for w in words).strip()
            segments.append(TranscriptSegment(words[0].start_s, words[-1].end_s, text, words))
        return Transcript(
            text=" ".join(s.text for s in segments),
            language=language or self.language,
            segments=tuple(segments),
            audio_s=length_s,
            seconds=0.0,
        )


async def _feed(transcriber: IncrementalTranscriber, audio: Pcm16, *, every_s: float | None) -> None:
    for start in range(0, len(audio), FRAME):
        transcriber.feed(audio[start : start + FRAME])
        if every_s is not None and transcriber.unseen_s >= every_s:
            await transcriber.update()


SENTENCES = ("we moved the billing service", "to a queue last spring", "and it cut the latency in half")
FULL_TEXT = " ".join(SENTENCES)


async def test_commits_while_speaking_and_finalizes_only_the_tail() -> None:
    words = _script(*SENTENCES)
    end_s = words[-1][1]
    stt = ScriptedSTT(words)
    transcriber = IncrementalTranscriber(stt, language="en")

    await _feed(transcriber, _stream(end_s + 0.2), every_s=1.0)
    assert transcriber.committed_text.startswith("we moved the billing service to a queue")
    calls_before = len(stt.calls)
    result = await transcriber.finalize()

    assert result.text == FULL_TEXT
    assert len(stt.calls) == calls_before + 1
    # The tail is the last segment (never committed: it ends within the stable margin), the
    # overlap before it, and what came after it; not the turn.
    previous_end = max(w[1] for w in words if w[3] == len(SENTENCES) - 2)
    bound = (end_s + 0.2) - (previous_end - 0.2) + 0.02
    assert 0 < transcriber.last_final_audio_s <= bound < end_s / 2
    assert stt.calls[-1][1] == pytest.approx(transcriber.last_final_audio_s)
    # Every call saw a short buffer, not the whole turn.
    assert max(length for _, length, _, _ in stt.calls) < end_s / 2
    assert result.segments[0].text == "we moved the billing service"
    starts = [s.start_s for s in result.segments]
    assert starts == sorted(starts)
    stt.close()


async def test_committed_text_is_the_prompt_and_words_in_the_overlap_are_not_repeated() -> None:
    words = _script(*SENTENCES)
    stt = ScriptedSTT(words)
    transcriber = IncrementalTranscriber(stt, language="en", prompt="Interview about backend work.")

    await _feed(transcriber, _stream(words[-1][1] + 0.2), every_s=1.0)
    result = await transcriber.finalize()

    assert result.text.split() == FULL_TEXT.split()
    prompts = [prompt for _, _, _, prompt in stt.calls]
    assert prompts[0] == "Interview about backend work."
    assert prompts[-1] is not None
    assert prompts[-1].startswith("Interview about backend work. we moved the billing service")
    # Calls after a cut start a little before it (the overlap), never after it.
    committed_ends = [s.end_s for s in result.segments]
    assert all(offset <= committed_ends[-1] for offset, _, _, _ in stt.calls)
    stt.close()


async def test_finalize_reuses_an_update_that_covered_the_last_voiced_frame() -> None:
    words = _script("tell me about", "your last project")
    voiced_until = words[-1][1]
    stt = ScriptedSTT(words)
    transcriber = IncrementalTranscriber(stt, language="en")
    audio = _stream(voiced_until + 0.3)

    await _feed(transcriber, audio[: round((voiced_until + 0.15) * RATE)], every_s=1.0)
    await transcriber.update(force=True)  # started at the pause, 0.15 s after the last word
    transcriber.feed(audio[round((voiced_until + 0.15) * RATE) :])
    calls = len(stt.calls)
    result = await transcriber.finalize(voiced_until_s=voiced_until)

    assert len(stt.calls) == calls
    assert transcriber.last_final_audio_s == 0
    assert result.text == "tell me about your last project"
    stt.close()


async def test_finalize_does_not_wait_for_an_update_that_stops_short_of_the_voice() -> None:
    # Two calls in a row cost a Korean answer 2.6-3.0 s here: the final starts beside the update.
    words = _script(*SENTENCES)
    voiced_until = words[-1][1]
    gate = threading.Event()
    stt = ScriptedSTT(words, workers=2, gate=gate)
    transcriber = IncrementalTranscriber(stt, language="en")
    audio = _stream(voiced_until + 0.3)
    transcriber.feed(audio[: round(2.0 * RATE)])
    update = asyncio.create_task(transcriber.update(force=True))
    await asyncio.sleep(0.05)  # the update is now blocked inside the model
    transcriber.feed(audio[round(2.0 * RATE) :])

    result = await asyncio.wait_for(transcriber.finalize(voiced_until_s=voiced_until), 5)

    assert not update.done()
    assert result.text == FULL_TEXT
    gate.set()
    assert await update == ""  # dropped: it would rewind what the final committed
    assert transcriber.committed_text == FULL_TEXT
    assert len(stt.calls) == 2
    stt.close()


async def test_finalize_waits_for_an_update_that_covers_the_voice() -> None:
    words = _script("tell me about", "your last project")
    voiced_until = words[-1][1]
    stt = ScriptedSTT(words, workers=2, delay_s=0.1)
    transcriber = IncrementalTranscriber(stt, language="en")
    transcriber.feed(_stream(voiced_until + 0.15))
    update = asyncio.create_task(transcriber.update(force=True))
    await asyncio.sleep(0.02)

    result = await transcriber.finalize(voiced_until_s=voiced_until)

    assert update.done()
    assert result.text == "tell me about your last project"
    assert len(stt.calls) == 1
    stt.close()


async def test_words_heard_in_the_closing_silence_are_dropped() -> None:
    # Whisper base likes to end on an invented "Thank you." in silence; the VAD knows better.
    words = [*_script("that is all"), (2.6, 2.9, "thank", 9), (2.9, 3.1, "you", 9)]
    voiced_until = words[2][1]
    stt = ScriptedSTT(words)
    transcriber = IncrementalTranscriber(stt, language="en")
    transcriber.feed(_stream(3.2))

    result = await transcriber.finalize(voiced_until_s=voiced_until)

    assert result.text == "that is all"
    stt.close()


async def test_finalize_without_updates_is_one_call_on_everything() -> None:
    words = _script("yes", "I did")
    stt = ScriptedSTT(words)
    transcriber = IncrementalTranscriber(stt, language="en")
    await _feed(transcriber, _stream(words[-1][1] + 0.1), every_s=None)

    result = await transcriber.finalize()

    assert result.text == "yes I did"
    assert len(stt.calls) == 1
    assert transcriber.last_final_audio_s == pytest.approx(words[-1][1] + 0.1, abs=0.02)
    assert result.audio_s == pytest.approx(words[-1][1] + 0.1, abs=0.02)
    assert transcriber.interim_text == "yes I did"
    stt.close()


async def test_update_waits_for_enough_new_audio() -> None:
    stt = ScriptedSTT(_script("hello"))
    transcriber = IncrementalTranscriber(stt, options=TranscriberOptions(min_update_s=1.0))
    transcriber.feed(_stream(0.5))
    assert await transcriber.update() == ""
    assert stt.calls == []
    transcriber.feed(_stream(0.6))
    assert await transcriber.update() == "hello"
    assert len(stt.calls) == 1
    stt.close()


async def test_detected_language_is_kept_for_later_calls() -> None:
    stt = ScriptedSTT(_script("annyeong haseyo", "bangapseumnida"), language="ko")
    transcriber = IncrementalTranscriber(stt)
    transcriber.feed(_stream(1.0))
    await transcriber.update()
    # One second is too little to trust a detection.
    assert transcriber.language is None
    transcriber.feed(_stream(1.5))
    await transcriber.update()
    assert transcriber.language == "ko"
    transcriber.feed(_stream(1.2))
    await transcriber.update()
    assert [language for _, _, language, _ in stt.calls] == [None, None, "ko"]
    stt.close()


async def test_reset_discards_an_update_in_flight() -> None:
    stt = ScriptedSTT(_script("first turn words"), delay_s=0.2)
    transcriber = IncrementalTranscriber(stt, language="en")
    transcriber.feed(_stream(2.0))
    update = asyncio.create_task(transcriber.update())
    await asyncio.sleep(0.05)
    transcriber.reset(language="en")
    await update
    assert transcriber.interim_text == ""
    assert transcriber.fed_s == 0
    stt.close()


async def test_long_segment_is_cut_at_a_pause_inside_it() -> None:
    # One 12 s "segment" with a half-second pause after its fifth word.
    words = [
        (0.2 + 0.4 * i + (0.5 if i >= 5 else 0), 0.55 + 0.4 * i + (0.5 if i >= 5 else 0), f"w{i}", 0)
        for i in range(28)
    ]
    stt = ScriptedSTT(words)
    transcriber = IncrementalTranscriber(stt, language="en", options=TranscriberOptions(long_segment_s=3.0))
    await _feed(transcriber, _stream(words[-1][1]), every_s=1.0)
    assert transcriber.committed_text.startswith("w0 w1 w2 w3 w4")
    result = await transcriber.finalize()
    assert result.text == " ".join(f"w{i}" for i in range(28))
    stt.close()


async def test_max_buffer_forces_a_commit() -> None:
    # No pause and no segment end: only the buffer limit makes room.
    words = [(0.1 + 0.3 * i, 0.38 + 0.3 * i, f"w{i}", i // 20) for i in range(60)]
    stt = ScriptedSTT(words)
    options = TranscriberOptions(max_buffer_s=8.0, stable_margin_s=1.0, long_segment_s=100.0)
    transcriber = IncrementalTranscriber(stt, language="en", options=options)
    await _feed(transcriber, _stream(words[-1][1] + 0.1), every_s=1.0)
    assert max(length for _, length, _, _ in stt.calls) < 8.0 + 1.1
    result = await transcriber.finalize()
    assert result.text == " ".join(f"w{i}" for i in range(60))
    stt.close()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="min_update_s"):
        TranscriberOptions(min_update_s=0)
    with pytest.raises(ValueError, match="30 s"):
        TranscriberOptions(max_buffer_s=29)
    with pytest.raises(ValueError, match="negative"):
        TranscriberOptions(overlap_s=-0.1)


def test_feed_checks_the_samples() -> None:
    stt = ScriptedSTT([])
    transcriber = IncrementalTranscriber(stt)
    with pytest.raises(ValueError, match="int16"):
        transcriber.feed(np.zeros(320, dtype=np.float32))
    stt.close()
