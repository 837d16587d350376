"""Thin livekit plugin adapters over our own model interfaces (``agent.models.base``).

Pass these *instances* to ``AgentSession``: a model-name string resolves to LiveKit's cloud.

STT streams: a VAD inside the stream cuts the audio into utterances and feeds each one, while it is
spoken, to an :class:`IncrementalTranscriber`, which commits stable text as it goes; interim
transcripts are emitted during speech and the final one, at the end of speech, costs one short call
on the uncommitted tail (often none). The stream also says when the answer may be over (see
:class:`_TranscribingStream`), which livekit's "stt" turn detection follows. The non-streaming
alternative (livekit's ``StreamAdapter``) would transcribe the whole answer only after it ends,
paying Whisper's floor plus the full decode on the critical path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectionError, llm, stt, tts, utils, vad
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr

# livekit plugins must register on the main thread: imported here, at module import, so that
# load_vad() can run in a worker thread.
from livekit.plugins import silero

from agent.errors import InterviewerError
from agent.models.base import (
    ChatLLM,
    ChatMessage,
    GenerationOptions,
    Model,
    Pcm16,
    SpeechToText,
    TextToSpeech,
)
from agent.models.transcriber import IncrementalTranscriber, TranscriberOptions
from agent.session.turn_taking import TurnTaking

log = logging.getLogger(__name__)

_RATE = 16_000
_Events = Literal["metrics_collected", "error"]
"""The plugins emit only the base classes' own events."""


def load_vad(*, min_silence_s: float = 0.3, activation_threshold: float = 0.5) -> vad.VAD:
    """livekit's Silero VAD, loaded from the model inside its wheel (no download); blocking, and
    fine in a worker thread (the plugin itself registers at import, on the main thread)."""
    loaded: vad.VAD = silero.VAD.load(
        min_silence_duration=min_silence_s, activation_threshold=activation_threshold
    )
    return loaded


def _pcm16(frames: list[rtc.AudioFrame]) -> Pcm16:
    if not frames:
        return np.zeros(0, dtype=np.int16)
    merged = utils.merge_frames(frames)
    if merged.num_channels != 1 or merged.sample_rate != _RATE:
        resampler = rtc.AudioResampler(
            input_rate=merged.sample_rate, output_rate=_RATE, num_channels=merged.num_channels
        )
        parts = [*resampler.push(merged), *resampler.flush()]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        merged = utils.merge_frames(parts)
        if merged.num_channels != 1:
            raise ValueError("the STT takes mono audio")
    return np.frombuffer(bytes(merged.data), dtype=np.int16)


def _speech_data(text: str, language: str | None, *, end_s: float = 0.0) -> stt.SpeechData:
    return stt.SpeechData(language=LanguageCode(language or "en"), text=text, end_time=end_s, confidence=1.0)


class _ModelNames:
    """livekit's ``model``/``provider`` properties, read from our model's info (shared by adapters)."""

    _model: Model

    @property
    def model(self) -> str:
        return self._model.info.name

    @property
    def provider(self) -> str:
        return self._model.info.provider


class LKSpeechToText(stt.STT[_Events]):
    """Our :class:`SpeechToText` as a livekit STT; streaming when given a VAD."""

    def __init__(
        self,
        model: SpeechToText,
        *,
        vad: vad.VAD | None,
        language: str | None = None,
        transcriber_options: TranscriberOptions | None = None,
        turn_taking: TurnTaking | None = None,
        update_every_s: float = 2.0,
        pause_update_s: float | None = 0.1,
    ) -> None:
        """``turn_taking``: decides how long each pause must last before the answer is over (see
        :mod:`agent.session.turn_taking`); None ends the turn at every end of speech.
        ``update_every_s``: new speech between two transcriptions while the candidate speaks.
        ``pause_update_s``: silence after which an idle
        transcriber starts one more update at once: begun inside the end-of-turn silence, it covers
        every voiced frame, and the final transcript then reuses it instead of a call of its own."""
        if update_every_s <= 0:
            raise ValueError("update_every_s must be positive")
        streaming = vad is not None
        super().__init__(capabilities=stt.STTCapabilities(streaming=streaming, interim_results=streaming))
        self._model = model
        self._vad = vad
        self._language = language
        # The stream paces the updates itself; the transcriber's own floor only stops a pause
        # update on a sliver of audio.
        self._options = transcriber_options or TranscriberOptions(min_update_s=0.3)
        self.turn_taking = turn_taking
        self.update_every_s = update_every_s
        self.pause_update_s = pause_update_s
        self.last_finalize_s: float | None = None
        """Wall time of the latest end-of-utterance transcription call (0 when it was free)."""

    model = _ModelNames.model
    provider = _ModelNames.provider

    @property
    def stt_model(self) -> SpeechToText:
        return self._model

    def new_transcriber(self) -> IncrementalTranscriber:
        return IncrementalTranscriber(self._model, language=self._language, options=self._options)

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frames = buffer if isinstance(buffer, list) else [buffer]
        lang = language if isinstance(language, str) else self._language
        try:
            transcript = await self._model.transcribe(_pcm16(frames), language=lang)
        except InterviewerError as exc:
            raise APIConnectionError(str(exc), retryable=exc.retryable) from exc
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[
                _speech_data(transcript.text, transcript.language or lang, end_s=transcript.audio_s)
            ],
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        if self._vad is None:
            raise NotImplementedError("LKSpeechToText streams only with a VAD")
        return _TranscribingStream(self, self._vad, conn_options=conn_options)


@dataclass(slots=True)
class _Utterance:
    transcriber: IncrementalTranscriber
    epoch: int
    interim: asyncio.Task[None] | None = None


class _TranscribingStream(stt.RecognizeStream):
    """Utterances cut by a VAD, each transcribed while spoken.

    ``END_OF_SPEECH`` means "the answer may be over": it follows the utterance's final transcript and
    is left out when the candidate has started speaking again meanwhile, so a turn never ends on a
    pause whose words are still being transcribed. With livekit's "stt" turn detection this event
    ends the turn.
    """

    def __init__(self, owner: LKSpeechToText, vad_model: vad.VAD, *, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=owner, conn_options=conn_options, sample_rate=_RATE)
        self._owner = owner
        self._vad_model = vad_model
        self._epoch = 0
        self._resumed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _run(self) -> None:
        vad_stream = self._vad_model.stream()

        async def forward() -> None:
            async for item in self._input_ch:
                if isinstance(item, rtc.AudioFrame):
                    vad_stream.push_frame(item)
            vad_stream.end_input()

        tasks = [
            asyncio.create_task(forward(), name="stt-forward"),
            asyncio.create_task(self._recognize(vad_stream), name="stt-recognize"),
        ]
        try:
            await asyncio.gather(*tasks)
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        finally:
            await utils.aio.cancel_and_wait(*tasks, *self._tasks)
            await vad_stream.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _recognize(self, vad_stream: vad.VADStream) -> None:
        current: _Utterance | None = None
        last_final: asyncio.Task[None] | None = None
        async for ev in vad_stream:
            if ev.type == vad.VADEventType.START_OF_SPEECH:
                self._epoch += 1
                self._resumed.set()
                if self._owner.turn_taking is not None:
                    self._owner.turn_taking.speech_started(time.time() - ev.speech_duration)
                # A fresh transcriber: the previous utterance may still be finalizing on its own.
                current = _Utterance(self._owner.new_transcriber(), self._epoch)
                # The start event carries the speech so far, prefix padding included.
                for frame in ev.frames:
                    current.transcriber.feed(_pcm16([frame]))
                self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH))
            elif ev.type == vad.VADEventType.INFERENCE_DONE and current is not None:
                for frame in ev.frames:
                    current.transcriber.feed(_pcm16([frame]))
                due = self._update_due(current, ev)
                if due is not None:
                    current.interim = self._spawn(self._interim(current.transcriber, urgent=due == "pause"))
            elif ev.type == vad.VADEventType.END_OF_SPEECH and current is not None:
                utterance, current = current, None
                speech_end = time.time() - ev.silence_duration - ev.inference_duration
                if self._owner.turn_taking is not None:
                    self._owner.turn_taking.speech_ended(speech_end)
                voiced_until = max(0.0, utterance.transcriber.fed_s - ev.silence_duration)
                last_final = self._spawn(self._finish(utterance, last_final, voiced_until, speech_end))

    def _update_due(self, utterance: _Utterance, ev: vad.VADEvent) -> Literal["pause", "periodic"] | None:
        """Updates only save work when the model is otherwise idle: a pause update lets the final
        reuse it, a periodic one refreshes captions. While the shared model is busy (another
        stream's call running or queued), neither is made: a Whisper call costs about the same
        (~0.5 s for tiny.en here) whatever its length, so the final transcribes the utterance in
        one call, and under load the updates space themselves out instead of delaying finals."""
        if utterance.interim is not None and not utterance.interim.done():
            return None  # one call at a time: the model has one thread
        if self._owner.stt_model.busy:
            return None
        transcriber = utterance.transcriber
        unseen = transcriber.unseen_s
        if unseen < transcriber.options.min_update_s:
            return None
        pause = self._owner.pause_update_s
        if pause is not None and ev.raw_accumulated_silence >= pause:
            return "pause"
        if unseen >= self._owner.update_every_s:
            return "periodic"
        return None

    async def _interim(self, transcriber: IncrementalTranscriber, *, urgent: bool) -> None:
        try:
            text = await transcriber.update(urgent=urgent)
        except InterviewerError as exc:
            log.warning("interim transcription failed: %s", exc)
            return
        if text:
            self._event_ch.send_nowait(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.INTERIM_TRANSCRIPT,
                    alternatives=[_speech_data(text, transcriber.language)],
                )
            )

    async def _finish(
        self,
        utterance: _Utterance,
        previous: asyncio.Task[None] | None,
        voiced_until: float,
        speech_end: float,
    ) -> None:
        # Finals go out in speaking order. The utterance's own update is not awaited first: the
        # transcriber starts the final beside an update that will not cover the voice's end.
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        transcriber = utterance.transcriber
        try:
            transcript = await transcriber.finalize(voiced_until_s=voiced_until)
        except InterviewerError as exc:
            # One failed utterance must not end the stream: livekit would not recreate it.
            log.warning("final transcription failed: %s", exc)
            transcript = None
        if utterance.interim is not None:
            # An interim never lands after its final (a superseded update sends nothing).
            await asyncio.gather(utterance.interim, return_exceptions=True)
        text = transcript.text.strip() if transcript is not None else ""
        if transcript is not None:
            self._owner.last_finalize_s = transcriber.last_final_s if transcriber.last_final_audio_s else 0.0
        turn_taking = self._owner.turn_taking
        if text and turn_taking is not None and not turn_taking.heard(text, voiced_until):
            log.debug("backchannel over the interviewer, not a turn: %r", text)
            return
        if text:
            language = transcript.language if transcript is not None and transcript.language else None
            self._event_ch.send_nowait(
                stt.SpeechEvent(
                    type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                    alternatives=[_speech_data(text, language or transcriber.language)],
                    speech_end_time=speech_end,
                )
            )
        # The pause must last as long as the turn-taking policy asks, counted from the end of the
        # voice (the VAD's silence and the final transcript already took part of it).
        hold = turn_taking.wait().silence_s - (time.time() - speech_end) if turn_taking is not None else 0.0
        if hold > 0 and self._epoch == utterance.epoch:
            self._resumed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._resumed.wait(), hold)
        if self._epoch == utterance.epoch:
            self._event_ch.send_nowait(
                stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, speech_end_time=speech_end)
            )


class LKTextToSpeech(tts.TTS[_Events]):
    """Our :class:`TextToSpeech` as a (non-streaming) livekit TTS; livekit feeds it sentence by
    sentence through its own ``StreamAdapter``."""

    def __init__(self, model: TextToSpeech, *, frame_ms: int = 20) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=model.sample_rate,
            num_channels=1,
        )
        self._model = model
        self._frame_ms = frame_ms

    model = _ModelNames.model
    provider = _ModelNames.provider

    @property
    def tts_model(self) -> TextToSpeech:
        return self._model

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _ChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class _ChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: LKTextToSpeech, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._owner = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        initialized = False
        try:
            async for chunk in self._owner.tts_model.stream(self.input_text):
                if not initialized:
                    # The rate of the voice actually chosen (a language router may pick another).
                    output_emitter.initialize(
                        request_id=utils.shortuuid(),
                        sample_rate=chunk.sample_rate,
                        num_channels=1,
                        mime_type="audio/pcm",
                        frame_size_ms=self._owner._frame_ms,
                    )
                    initialized = True
                output_emitter.push(chunk.pcm)
        except InterviewerError as exc:
            raise APIConnectionError(str(exc), retryable=exc.retryable) from exc
        if not initialized:
            output_emitter.initialize(
                request_id=utils.shortuuid(),
                sample_rate=self._owner.sample_rate,
                num_channels=1,
                mime_type="audio/pcm",
            )
        output_emitter.flush()


class LKLanguageModel(llm.LLM[_Events]):
    """Our :class:`ChatLLM` as a livekit LLM, used when the agent lets the model speak.

    Only the system prompt and the last user message are sent: given the whole history, the tiny
    model repeats its first reply.
    """

    def __init__(self, model: ChatLLM | None, *, options: GenerationOptions | None = None) -> None:
        """``model`` None: a session whose agent writes every reply itself (livekit still wants an
        LLM to be set before it generates replies at all); it answers nothing."""
        super().__init__()
        self._model = model
        self._options = options or GenerationOptions(max_tokens=80, temperature=0.3)

    @property
    def model(self) -> str:
        return self._model.info.name if self._model is not None else "none"

    @property
    def provider(self) -> str:
        return self._model.info.provider if self._model is not None else "none"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _LLMStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)

    def messages(self, chat_ctx: llm.ChatContext) -> list[ChatMessage]:
        system = [m.text_content or "" for m in chat_ctx.messages() if m.role in ("system", "developer")]
        users = [m.text_content or "" for m in chat_ctx.messages() if m.role == "user"]
        out: list[ChatMessage] = []
        if any(system):
            out.append(ChatMessage("system", "\n".join(s for s in system if s)))
        out.append(ChatMessage("user", users[-1] if users else ""))
        return out

    async def complete(self, chat_ctx: llm.ChatContext) -> tuple[str, int, int]:
        if self._model is None:
            return "", 0, 0
        try:
            completion = await self._model.complete(self.messages(chat_ctx), options=self._options)
        except InterviewerError as exc:
            raise APIConnectionError(str(exc), retryable=exc.retryable) from exc
        return completion.text, completion.prompt_tokens, completion.completion_tokens


class _LLMStream(llm.LLMStream):
    def __init__(
        self,
        owner: LKLanguageModel,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(owner, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._owner = owner

    async def _run(self) -> None:
        request_id = utils.shortuuid()
        text, prompt_tokens, completion_tokens = await self._owner.complete(self._chat_ctx)
        if text:
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=text))
            )
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id,
                usage=llm.CompletionUsage(
                    completion_tokens=completion_tokens,
                    prompt_tokens=prompt_tokens,
                    total_tokens=prompt_tokens + completion_tokens,
                ),
            )
        )
