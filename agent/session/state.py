"""Where an interview stands, kept outside the LLM and outside the process.

The state is persisted after every change through a small :class:`StateStore`, so a candidate who
drops and rejoins resumes at the same question (the app backs it with ``interviews.current_question``
and ``interviews.followup_used``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Protocol

from agent.plan.stages import Language, Stage

if TYPE_CHECKING:
    from agent.plan.planner import PlanResult

Status = Literal["planned", "live", "ended"]
DecisionKind = Literal["follow_up", "next", "close"]


@dataclass(frozen=True, slots=True)
class PlanQuestion:
    ord: int
    stage: Stage
    text: str


@dataclass(frozen=True, slots=True)
class InterviewPlan:
    language: Language
    questions: tuple[PlanQuestion, ...]
    target_role: str | None = None
    candidate_name: str | None = None

    def __post_init__(self) -> None:
        if not self.questions:
            raise ValueError("an interview plan needs at least one question")
        if [q.ord for q in self.questions] != list(range(len(self.questions))):
            raise ValueError("plan questions must be numbered 0..n-1 in order")

    @classmethod
    def of(
        cls,
        language: Language,
        texts: Sequence[str],
        *,
        stages: Sequence[Stage] | None = None,
        target_role: str | None = None,
    ) -> InterviewPlan:
        """A plan from bare question texts (tests, CLI); stages default to experience."""
        stage_list = list(stages) if stages is not None else [Stage.EXPERIENCE] * len(texts)
        questions = tuple(
            PlanQuestion(i, stage, text)
            for i, (stage, text) in enumerate(zip(stage_list, texts, strict=True))
        )
        return cls(language, questions, target_role=target_role)

    @classmethod
    def from_plan_result(cls, result: PlanResult) -> InterviewPlan:
        questions = tuple(PlanQuestion(q.ord, q.stage, q.text) for q in result.questions)
        return cls(result.language, questions, target_role=result.target_role)

    def question(self, index: int) -> PlanQuestion | None:
        return self.questions[index] if 0 <= index < len(self.questions) else None


@dataclass(frozen=True, slots=True)
class InterviewState:
    question_index: int = 0
    """The planned question being asked or answered."""
    followup_used: bool = False
    """Whether the current question already had its one follow-up."""
    status: Status = "planned"

    def __post_init__(self) -> None:
        if self.question_index < 0:
            raise ValueError("question_index must not be negative")

    def stage(self, plan: InterviewPlan) -> str:
        if self.status == "ended":
            return "ended"
        question = plan.question(self.question_index)
        return question.stage.value if question is not None else "closing"

    def started(self) -> InterviewState:
        return self if self.status == "live" else replace(self, status="live")

    def after(self, kind: DecisionKind) -> InterviewState:
        """The state once the interviewer's reply of ``kind`` has been heard."""
        if kind == "follow_up":
            return replace(self, followup_used=True)
        if kind == "next":
            return replace(self, question_index=self.question_index + 1, followup_used=False)
        return replace(self, status="ended")


class StateStore(Protocol):
    """Persistence of one interview's state."""

    async def load(self) -> InterviewState | None: ...

    async def save(self, state: InterviewState) -> None: ...


class MemoryStateStore:
    """A store in memory: tests, and runs that need no resume across processes."""

    def __init__(self, state: InterviewState | None = None) -> None:
        self.state = state
        self.saves: list[InterviewState] = []

    async def load(self) -> InterviewState | None:
        return self.state

    async def save(self, state: InterviewState) -> None:
        self.state = state
        self.saves.append(state)
