"""The answer, not the turn, is the unit: which stored candidate turns make up one answer.

A candidate who pauses, is cut off by a false end of turn and goes on, or drops out and rejoins,
produces several candidate turns for one question. Scoring, the transcript API, the dashboard and
the report all group them with :func:`group_answers`, so they agree on what one answer is.

The rule, over an interview's turns in ``seq`` order:

- an answer is identified by :class:`AnswerKey` = (the planned question it answers, how many
  follow-ups to that question had been *asked* before it). Every candidate turn with the same key
  belongs to the same answer, whatever came between them;
- an interviewer line counts as asked only when it was not interrupted: a line the candidate cut
  off by resuming is no question, so the candidate's next turn keeps its key and joins the answer;
- only a follow-up line (``kind == "follow_up"``) moves the follow-up ordinal; a new planned
  question moves ``question_index`` (the call stamps each candidate turn with the question it
  answers). A re-ask after a rejoin, a repeated question, a "take your time" prompt and an
  acknowledgement change neither, so what the candidate says after them continues the same answer;
- a candidate turn without a question index (an old row, or one after the plan ran out) takes the
  last index seen before it.

The key is deterministic (it depends only on the stored rows) and stable as an answer grows: new
turns have larger ``seq``, so an answer's first turn never changes and its id is the evaluation's
upsert key. ``web/static/js/transcript.js`` (``groupAnswers``) mirrors this rule for the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FOLLOW_UP = "follow_up"
REQUEST = "request"
"""A candidate turn that asked to repeat the question or to move on."""
QUESTION_KINDS = frozenset({"greeting", "next", "follow_up", "resume"})
"""Interviewer lines that put a question to the candidate (the answer's question is the last one
of these before it; the ordinal moves on ``follow_up`` only)."""


@dataclass(frozen=True, slots=True)
class TurnView:
    """What grouping needs of one stored turn (a row, an event or a record)."""

    seq: int
    speaker: str
    text: str
    kind: str | None = None
    interrupted: bool = False
    question_index: int | None = None
    turn_id: Any = None
    """The row's id (a UUID for stored turns); carried through, never interpreted."""
    started_s: float | None = None
    ended_s: float | None = None


@dataclass(frozen=True, slots=True, order=True)
class AnswerKey:
    question_index: int
    follow_up: int
    """0 for the answer to the planned question, n for the answer to its n-th follow-up."""

    def __str__(self) -> str:
        return f"{self.question_index}.{self.follow_up}"


@dataclass(frozen=True, slots=True)
class Answer:
    key: AnswerKey
    turns: tuple[TurnView, ...]
    """The candidate turns, in ``seq`` order (never empty)."""
    question: str
    """The interviewer's line that asked it: the last whole (not cut off) question line for its
    key before the answer's first turn, else a cut-off one for that key, else the planned
    question's text when the caller gave the plan, else ""."""

    @property
    def first(self) -> TurnView:
        return self.turns[0]

    @property
    def last_seq(self) -> int:
        """The version of the answer: it grows when a turn joins, so a larger value is newer."""
        return self.turns[-1].seq

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(t.seq for t in self.turns)

    @property
    def text(self) -> str:
        """What the candidate answered: an ordinary request among the turns ("Could you repeat the
        question?") stays in the transcript but is not part of what is scored."""
        return " ".join(t.text.strip() for t in self.turns if t.text.strip() and t.kind != REQUEST)

    @property
    def spoken_s(self) -> float | None:
        """Seconds the candidate spoke (the pauses and interviewer lines between turns left out);
        None when a turn has no timings."""
        total = 0.0
        for t in self.turns:
            if t.started_s is None or t.ended_s is None:
                return None
            total += max(0.0, t.ended_s - t.started_s)
        return round(total, 3)


def group_answers(turns: Iterable[TurnView], planned: Mapping[int, str] | None = None) -> list[Answer]:
    """The interview's answers in the order they were first given. ``planned``: the plan's question
    texts by index, for an answer whose question line was cut off before a word of it was heard (a
    greeting the candidate spoke into is stored with no text)."""
    follow_ups: dict[int, int] = {}
    last_index = 0
    asked: dict[AnswerKey, str] = {}
    """The last line that asked each key's question; a cut-off line only until a whole one came."""
    cut: dict[AnswerKey, str] = {}
    groups: dict[AnswerKey, list[TurnView]] = {}
    questions: dict[AnswerKey, str] = {}
    for turn in sorted(turns, key=lambda t: t.seq):
        if turn.speaker != "candidate":
            index = last_index if turn.question_index is None else turn.question_index
            asks = turn.kind in QUESTION_KINDS or turn.kind is None
            if turn.interrupted:
                # Cut off by the candidate: not asked, and the plan did not move. Its text still
                # names the question if the call advanced anyway and no whole line asked it.
                if asks and turn.text.strip():
                    ordinal = follow_ups.get(index, 0) + (turn.kind == FOLLOW_UP)
                    cut[AnswerKey(index, ordinal)] = turn.text
                continue
            last_index = index
            if turn.kind == FOLLOW_UP:
                follow_ups[index] = follow_ups.get(index, 0) + 1
            if asks:
                asked[AnswerKey(index, follow_ups.get(index, 0))] = turn.text
            continue
        if turn.question_index is not None:
            last_index = turn.question_index
        key = AnswerKey(last_index, follow_ups.get(last_index, 0))
        if key not in groups:
            groups[key] = []
            fallback = (planned or {}).get(key.question_index, "") if key.follow_up == 0 else ""
            questions[key] = asked.get(key) or cut.get(key) or fallback
        groups[key].append(turn)
    return [Answer(key, tuple(ts), questions[key]) for key, ts in groups.items()]


def answer_by_seq(answers: Sequence[Answer]) -> dict[int, Answer]:
    """Each candidate turn's ``seq`` -> the answer it belongs to."""
    return {t.seq: a for a in answers for t in a.turns}


def view_of(
    *,
    seq: int,
    speaker: str,
    text: str,
    latencies: Mapping[str, Any] | None,
    question_index: int | None,
    turn_id: Any = None,
    started_s: float | None = None,
    ended_s: float | None = None,
) -> TurnView:
    """A stored turn row as a view: the call keeps ``kind`` and ``interrupted`` in ``latencies``."""
    extra = latencies or {}
    kind = extra.get("kind")
    return TurnView(
        seq=seq,
        speaker=speaker,
        text=text,
        kind=kind if isinstance(kind, str) else None,
        interrupted=bool(extra.get("interrupted", False)),
        question_index=question_index,
        turn_id=turn_id,
        started_s=started_s,
        ended_s=ended_s,
    )
