"""The life of one turn, and the decisions in it, as plain functions.

An interview answer is not a voice-assistant command: candidates think aloud and pause for one or
two seconds after complete sentences. The turn's life, as the session runs it:

1. **The candidate speaks.** The STT stream cuts the audio at each VAD pause (0.3 s) and
   transcribes the utterance; its words join the *answer* (:class:`AnswerWindow`), which spans every
   utterance and committed turn since the interviewer last asked something.
2. **A pause.** :meth:`EndOfTurnPolicy.required_silence` says how long this pause must last before
   the answer counts as over, from what was asked (:func:`question_kind`), how long the answer is
   so far, how the transcript ends (:func:`~agent.session.cues.looks_unfinished`), an ordinary
   request (:func:`request_in`), and this candidate's own rhythm: the longest pause they have
   already made and then gone on after when it came near being taken for the end (a slow,
   thoughtful speaker gets a slower interviewer; a pause from an earlier answer counts less).
   Speech before that ends the wait; the answer goes on.
3. **End of turn.** The turn is committed; the interviewer decides (``decide.py``) and speaks.
4. **Recovery.** If the candidate speaks again within ``resume_window_s`` of that line starting
   (:func:`stop_at_once`), it was a false end of turn: the line is cut at the first voiced frame,
   stored as interrupted and not asked, the plan does not move, and the new words join the same
   answer; the decision runs again when the candidate has really finished. Later in a line, only
   speech that lasts ``barge_in_s`` stops it, so a backchannel ("mm-hm", "네") does not
   (:func:`is_backchannel` keeps it out of the answer too).
5. **Silence after a question.** ``silence_prompt_s`` with no word gets a gentle prompt; the second
   offers to move on (:func:`silence_prompt`).

The measured alternative, LiveKit's audio end-of-turn model in ``livekit-local-inference`` 0.2.7,
did not separate the ends of answers from thinking pauses on the spontaneous fixtures (docs/
performance.md, "Issue 11"), so the decision is made from the signals above.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

from agent.plan.stages import Language
from agent.session.cues import looks_unfinished

QuestionKind = Literal["open", "closed"]
Request = Literal["repeat", "move_on"]


@dataclass(frozen=True, slots=True)
class TurnTakingOptions:
    open_silence_s: float = 1.0
    """Silence that ends a substantive answer to an open question whose last sentence is complete.
    The Earnings-22 speaker's pauses between sentences ran 0.3-2.1 s; read speech 0.3-1.3 s."""
    closed_silence_s: float = 0.6
    """Silence that ends a complete answer to a yes/no or short-fact question."""
    starting_silence_s: float = 2.2
    """Silence while an open answer is still very short (``starting_words``): a candidate who has
    said a few words ("Well, so.") is getting started. Longer answers rely on their own rhythm."""
    short_silence_s: float = 2.0
    """Silence after a complete sentence while an open answer is still short (``short_words``):
    one or two sentences are rarely a whole answer to an open question, and the pause a candidate
    takes before the next one runs to 1.5 s (a 1.0 s wait cut a 19-word sentence off at its 1.5 s
    pause in the turn-taking tests; 1.7 s still cut JFK's address off at a 1.5 s seam, which the
    VAD measures as ~1.7 s of silence)."""
    unfinished_silence_s: float = 2.6
    """Silence after a transcript that ends mid-sentence ("... and", "um", "-는데")."""
    request_silence_s: float = 0.5
    """Silence that ends an ordinary request ("Could you repeat the question?")."""
    rhythm_factor: float = 1.4
    """The wait is at least this many times the longest pause the candidate already made and then
    went on after, in this answer or an earlier one (up to ``rhythm_cap_s``). The Earnings-22
    speaker's pauses after sentences grow from 1.4 s to 1.8 s and 2.2 s: 1.25 x the first is too
    little for the second."""
    rhythm_cap_s: float = 2.2
    """The longest wait the candidate's rhythm alone asks for: the Earnings-22 speaker's longest
    pause between sentences was 2.05 s, and every second more is a second before each question."""
    max_silence_s: float = 3.0
    """No wait is longer: a candidate silent this long after a sentence has finished."""
    starting_words: tuple[tuple[str, int], ...] = (("en", 12), ("ko", 7))
    """Words below which an open answer is just getting started (Korean eojeol carry ~1.5 words).
    At 25 every read-speech answer of one or two sentences waited 2.2 s (2.5-3.2 s to the next
    question); a thoughtful speaker's long pauses are learned as their rhythm instead."""
    short_words: tuple[tuple[str, int], ...] = (("en", 30), ("ko", 17))
    """Words below which a complete open answer is still short (``short_silence_s``)."""
    resume_window_s: float = 3.0
    """Speech this soon after the interviewer's line started means the candidate had not finished:
    the line stops at once and is given back."""
    barge_in_s: float = 1.2
    """Later in a line, speech must last this long to stop it (a backchannel is shorter)."""
    backchannel_s: float = 1.1
    """A one-word utterance shorter than this (the VAD's 0.5 s of prefix padding included), said
    over the interviewer, is a backchannel."""
    silence_prompt_s: float = 6.0
    """Silence after a question before a gentle prompt."""
    max_prompts: int = 2
    """Prompts per question; the last one offers to move on."""
    answer_window_chars: int = 6000
    """Characters of the answer kept for the decisions (about 1000 words, 7 minutes of speech): a
    monologue is held as one answer in bounded memory."""
    rhythm_memory: int = 20
    """Pauses remembered for the candidate's rhythm."""
    rhythm_near_miss: float = 0.7
    """A pause teaches the rhythm only if it lasted this share of the wait its words asked for (the
    patience for a short answer left out): a 1.8 s pause after "... and" (a 2.6 s wait) was never
    close to being taken for the end, and must not make every later complete answer wait 2.2 s."""
    rhythm_decay: float = 0.95
    """A pause from an earlier answer counts this much less per question asked since: one long pause
    early in the interview must not slow every later answer forever. Slowly: it is the same person
    all through the interview (at 0.8, the Earnings-22 speaker's 2.05 s pauses of the first answer
    had faded by the sixth, whose own 2.1 s pause was then cut off)."""

    def __post_init__(self) -> None:
        waits = (
            self.open_silence_s,
            self.closed_silence_s,
            self.starting_silence_s,
            self.short_silence_s,
            self.unfinished_silence_s,
            self.request_silence_s,
        )
        if min(waits) <= 0 or max(waits) > self.max_silence_s:
            raise ValueError("end-of-turn silences must be positive and at most max_silence_s")
        if self.rhythm_factor < 1.0 or not 0 < self.rhythm_cap_s <= self.max_silence_s:
            raise ValueError("rhythm_factor must be at least 1, rhythm_cap_s within max_silence_s")
        if self.resume_window_s < 0 or self.barge_in_s <= 0 or self.silence_prompt_s <= 0:
            raise ValueError("resume window, barge-in and prompt times must be positive")
        if self.max_prompts < 0 or self.answer_window_chars < 200 or self.rhythm_memory < 1:
            raise ValueError("max_prompts, answer_window_chars or rhythm_memory out of range")
        if any("en" not in dict(table) for table in (self.starting_words, self.short_words)):
            raise ValueError("starting_words and short_words need an English entry (the fallback)")
        if not 0 <= self.rhythm_near_miss <= 1 or not 0 < self.rhythm_decay <= 1:
            raise ValueError("rhythm_near_miss must be within 0-1 and rhythm_decay within (0, 1]")

    @staticmethod
    def words_for(table: tuple[tuple[str, int], ...], language: str) -> int:
        """A per-language word threshold; a language not in ``table`` takes English's."""
        by_language = dict(table)
        return by_language.get(language, by_language["en"])


# --- what was asked --------------------------------------------------------------------------------

_CLOSED = {
    "en": re.compile(
        r"^(do|did|does|are|is|was|were|have|has|had|can|could|will|would|should)\s+(you|they|we|it|"
        r"there|your)\b(?!.*\b(tell|describe|explain|walk|talk|share|give|elaborate)\b)"
        r"|^(what is|what's) your (name|current title|notice period)|^how many (years|people)\b"
        r"|^when did you (start|join|leave)\b",
        re.IGNORECASE,
    ),
    "ko": re.compile(
        r"(성함이|이름이|몇 년|몇 명|언제부터|있으신가요\??$|있나요\??$|맞나요\??$|맞습니까\??$|하셨나요\??$)"
    ),
}
_OPEN_KO = re.compile(r"(어떻게|왜|무엇|어떤|설명|말씀해|이야기|소개|경험)")
_LEADS = re.compile(r"^.*?(?:[.!]\s+)(?=\S)")


def question_kind(text: str, language: str) -> QuestionKind:
    """An open question expects several sentences; a yes/no or short-fact question does not.
    Interview questions are open unless they clearly are not."""
    question = _LEADS.sub("", text.strip())  # "Let's move on. Do you ..." -> "Do you ..."
    pattern = _CLOSED.get(language)
    if pattern is None or not pattern.search(question):
        return "open"
    if language == "ko" and _OPEN_KO.search(question):
        return "open"
    return "closed"


# --- what the candidate said -----------------------------------------------------------------------

_REQUESTS: dict[str, tuple[tuple[Request, re.Pattern[str]], ...]] = {
    "en": (
        (
            "repeat",
            re.compile(
                r"\b(repeat|say (that|it) again|come again|pardon|one more time|what was the question|"
                r"didn'?t (catch|hear|get|understand) (that|it|the question|you))\b",
                re.IGNORECASE,
            ),
        ),
        (
            "move_on",
            re.compile(
                r"\b(move on|next question|skip (this|it|that|the question)|let'?s skip|"
                r"pass on (this|that))\b",
                re.IGNORECASE,
            ),
        ),
    ),
    "ko": (
        (
            "repeat",
            re.compile(
                r"(다시 ?(한 ?번 ?)?(말씀|얘기|말해|들려|설명|질문)|다시요|뭐라고 하셨|잘 못 들었|"
                r"못 알아들|질문이 뭐|질문을 다시)"
            ),
        ),
        ("move_on", re.compile(r"(넘어가|다음 질문|패스|건너뛰|건너 뛰)")),
    ),
}
_REQUEST_MAX_WORDS = {"en": 14, "ko": 9}
"""A request is short: a long answer that mentions "next question" in passing is an answer."""


def request_in(text: str, language: str) -> Request | None:
    """An ordinary request instead of an answer: repeat the question, or move on."""
    stripped = text.strip()
    if not stripped or len(stripped.split()) > _REQUEST_MAX_WORDS.get(language, 14):
        return None
    for request, pattern in _REQUESTS.get(language, ()):
        if pattern.search(stripped):
            return request
    return None


_BACKCHANNELS = {
    "en": frozenset(
        {
            "mm",
            "mmm",
            "hmm",
            "hm",
            "mhm",
            "mm-hm",
            "mm-hmm",
            "mmhmm",
            "uh-huh",
            "uh",
            "huh",
            "um",
            "okay",
            "ok",
            "yeah",
            "yes",
            "yep",
            "right",
            "sure",
            "alright",
            "i see",
            "got it",
            "uh huh",
            "mm hmm",
            "all right",
            "okay okay",
            "yeah yeah",
            "right right",
            "thank you",
        }
    ),
    "ko": frozenset(
        {"네", "예", "음", "응", "아", "어", "아하", "아 네", "네네", "네 네", "그렇군요", "알겠습니다"}
        | {"네 알겠습니다"}
    ),
}
_PUNCT = re.compile(r"[^\w\s'-]")


def is_backchannel(text: str, language: str) -> bool:
    """A listener's "mm-hm" / "okay" / "네": not a turn, and no reason to stop the interviewer."""
    normalized = " ".join(_PUNCT.sub(" ", text.casefold()).split())
    if not normalized:
        return True  # noise the STT heard no words in
    return normalized in _BACKCHANNELS.get(language, _BACKCHANNELS["en"])


def word_count(text: str) -> int:
    return len(text.split())


# --- the decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the end-of-turn decision sees at a pause."""

    language: str
    question: QuestionKind
    answer: str
    """The answer so far, this utterance included."""
    longest_continued_pause_s: float = 0.0
    """The longest pause this candidate made and then went on after (0: none seen yet)."""


@dataclass(frozen=True, slots=True)
class Wait:
    silence_s: float
    """Silence after the end of speech before the turn ends."""
    reason: str


class EndOfTurnPolicy:
    """How long a pause must last before the answer is over."""

    def __init__(self, options: TurnTakingOptions | None = None) -> None:
        self.options = options or TurnTakingOptions()

    def required_silence(self, ctx: TurnContext) -> Wait:
        o = self.options
        wait = self.text_wait(ctx, by_length=True)
        if wait.reason in ("no words", "request"):
            return wait
        rhythm = min(o.rhythm_cap_s, ctx.longest_continued_pause_s * o.rhythm_factor)
        if rhythm > wait.silence_s:
            return Wait(round(rhythm, 3), f"{wait.reason}, candidate's rhythm")
        return wait

    def text_wait(self, ctx: TurnContext, *, by_length: bool) -> Wait:
        """The wait the words alone ask for (no rhythm); ``by_length`` False leaves out the patience
        for a short answer, to judge how close a pause came to ending a sentence that looked done."""
        o = self.options
        text = ctx.answer.strip()
        if not text:
            return Wait(0.0, "no words")  # noise: nothing to wait for, nothing will be committed
        if request_in(_last_sentence(text), ctx.language) is not None and word_count(text) <= 14:
            return Wait(o.request_silence_s, "request")
        if looks_unfinished(text, ctx.language):
            return Wait(o.unfinished_silence_s, "unfinished")
        if by_length and ctx.question == "open":
            words = word_count(text)
            if words < o.words_for(o.starting_words, ctx.language):
                return Wait(o.starting_silence_s, "getting started")
            if words < o.words_for(o.short_words, ctx.language):
                return Wait(o.short_silence_s, "short answer")
        if ctx.question == "closed":
            return Wait(o.closed_silence_s, "closed question")
        return Wait(o.open_silence_s, "complete")


def stop_at_once(since_line_start_s: float | None, options: TurnTakingOptions) -> bool:
    """Whether candidate speech stops the interviewer's line the moment it is heard: before the line's
    audio has started (None) or within the resume window, the turn had not really ended."""
    return since_line_start_s is None or since_line_start_s <= options.resume_window_s


def silence_prompt(language: Language, n: int, max_prompts: int) -> str:
    """The ``n``-th prompt (0-based) after a long silence; the last offers to move on."""
    if n + 1 >= max_prompts:
        return _PROMPT_MOVE_ON[language]
    return _PROMPT[language]


_PROMPT: dict[Language, str] = {
    "en": "Take your time.",
    "ko": "천천히 생각하셔도 됩니다.",
}
_PROMPT_MOVE_ON: dict[Language, str] = {
    "en": "Take your time. If you'd rather, we can move on to the next question.",
    "ko": "천천히 생각하셔도 됩니다. 원하시면 다음 질문으로 넘어가도 됩니다.",
}
_REPEAT_LEAD: dict[Language, str] = {
    "en": "Of course.",
    "ko": "네, 다시 말씀드리겠습니다.",
}


def repeat_line(question: str, language: Language) -> str:
    return f"{_REPEAT_LEAD[language]} {question}".strip()


def prompt_texts(language: Language) -> list[str]:
    """Lines worth synthesizing before the call: every prompt and repeat lead."""
    return [_PROMPT[language], _PROMPT_MOVE_ON[language]]


def _last_sentence(text: str) -> str:
    parts = [p for p in re.split(r"(?<=[.?!])\s+", text.strip()) if p]
    return parts[-1] if parts else text


# --- the answer in progress ------------------------------------------------------------------------


class AnswerWindow:
    """The answer since the interviewer last asked something, in bounded memory: the decisions see
    its last ``max_chars``; the word count covers all of it."""

    def __init__(self, max_chars: int) -> None:
        self._max = max_chars
        self._parts: deque[str] = deque()
        self._chars = 0
        self.words = 0
        self.utterances = 0

    @property
    def text(self) -> str:
        return " ".join(self._parts)

    def add(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        self._parts.append(text)
        self._chars += len(text) + 1
        self.words += word_count(text)
        self.utterances += 1
        while self._chars > self._max and len(self._parts) > 1:
            self._chars -= len(self._parts.popleft()) + 1
        if self._chars > self._max:  # one utterance longer than the window: keep its end
            only = self._parts.pop()[-self._max :]
            self._parts.append(only)
            self._chars = len(only) + 1

    def clear(self) -> None:
        self._parts.clear()
        self._chars = 0
        self.words = 0
        self.utterances = 0


class TurnTaking:
    """The turn's shared state, between the STT stream (pauses, words) and the interviewer (what was
    asked, whether it is speaking). One per session; every decision is delegated to the functions
    above."""

    def __init__(self, language: str, options: TurnTakingOptions | None = None) -> None:
        self.options = options or TurnTakingOptions()
        self.policy = EndOfTurnPolicy(self.options)
        self.language = language
        self.question: QuestionKind = "open"
        self.answer = AnswerWindow(self.options.answer_window_chars)
        self._pauses: deque[tuple[float, int]] = deque(maxlen=self.options.rhythm_memory)
        """(pause, number of the question it was made after)"""
        self._asked = 0
        self._speech_end: float | None = None
        self.interviewer_speaking = False
        """The interviewer's line is playing: a backchannel then is not a turn."""
        self.last_wait: Wait | None = None

    # from the interviewer
    def asked(self, question_text: str) -> None:
        """A line that asks something was heard: a new answer starts."""
        self.question = question_kind(question_text, self.language)
        self.answer.clear()
        self._speech_end = None
        self._asked += 1

    # from the STT stream
    def speech_started(self, at: float) -> None:
        """Wall time a stretch of speech started: the pause before it was not the end. It joins the
        candidate's rhythm if it came near the wait the answer had then (a near miss)."""
        if (
            self._speech_end is not None
            and self._speech_end < at <= self._speech_end + self.options.max_silence_s
        ):
            # Longer than any wait: the turn ended in between (the next question can be marked as
            # asked a little after the candidate starts to answer it), so no pause inside an answer.
            pause = at - self._speech_end
            # Against the words' own wait, not the patience for a short answer: a 1.2 s pause after
            # the first complete sentence (the Earnings-22 speaker's) is this speaker's rhythm.
            base = self.policy.text_wait(self._context(rhythm_s=0.0), by_length=False).silence_s
            if pause >= self.options.rhythm_near_miss * base:
                self._pauses.append((pause, self._asked))
        self._speech_end = None

    def speech_ended(self, at: float) -> None:
        self._speech_end = at

    @property
    def longest_continued_pause_s(self) -> float:
        """The longest near-miss pause, those of earlier answers weighed down by their age."""
        decay = self.options.rhythm_decay
        return max((p * decay ** (self._asked - n) for p, n in self._pauses), default=0.0)

    def heard(self, text: str, voiced_s: float | None = None) -> bool:
        """An utterance's final transcript; False when it is a backchannel over the interviewer
        (then it is no part of the answer, and no turn). A single word under ``backchannel_s`` over
        the interviewer counts as one whatever the STT made of it (Whisper heard a short "네." as
        "레이브")."""
        if self.interviewer_speaking and (
            is_backchannel(text, self.language)
            or (voiced_s is not None and voiced_s < self.options.backchannel_s and word_count(text) <= 1)
        ):
            return False
        self.answer.add(text)
        return True

    def wait(self) -> Wait:
        self.last_wait = self.policy.required_silence(self._context(rhythm_s=self.longest_continued_pause_s))
        return self.last_wait

    def _context(self, *, rhythm_s: float) -> TurnContext:
        return TurnContext(
            language=self.language,
            question=self.question,
            answer=self.answer.text,
            longest_continued_pause_s=rhythm_s,
        )
