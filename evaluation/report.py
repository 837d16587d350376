"""The interview report: overall and per-competency scores, strengths and improvements with
evidence, per-answer feedback, the stage timings summary and the models used. Built from the stored
evaluations only, so a re-run gives the same report."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from db.models import Evaluation
from evaluation.answers import Answer
from evaluation.feedback import STRONG, WEAK, text_for
from evaluation.rubric import COMPETENCIES
from evaluation.store import ReportInputs

_ANSWER_CHARS = 400


def _pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def stage_timings(latencies: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per stage (``*_s`` keys of the turns' latencies): count, p50 and p95 in milliseconds."""
    values: dict[str, list[float]] = {}
    for item in latencies:
        for key, value in item.items():
            if key.endswith("_s") and isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(key.removesuffix("_s"), []).append(float(value))
    return {
        key: {"count": len(v), "p50_ms": round(_pct(v, 50) * 1000, 1), "p95_ms": round(_pct(v, 95) * 1000, 1)}
        for key, v in sorted(values.items())
    }


def build_report(inputs: ReportInputs) -> dict[str, Any]:
    """The report over the interview's answers (``evaluation.answers``: consecutive candidate turns
    for one question are one answer, scored once as a whole)."""
    interview = inputs.interview
    language = interview.language
    ko = language == "ko"
    answers = [_answer_entry(a, inputs.evaluations) for a in inputs.answers]
    done = [a for a in answers if a["status"] == "done"]
    failed = [
        {"turn_id": a["turn_id"], "seq": a["seq"], "error": a["error"]}
        for a in answers
        if a["status"] != "done" or not a["complete"]
    ]
    competencies = {
        name: round(statistics.fmean(a["competencies"][name] for a in done), 1) if done else None
        for name in COMPETENCIES
    }
    overall = round(statistics.fmean(a["overall"] for a in done), 1) if done else None
    strengths, improvements = _overall_feedback(done, competencies, language)
    models = _models(done)
    report = {
        "interview_id": str(interview.id),
        "language": language,
        "target_role": interview.target_role,
        "scale": "0-100",
        "status": "complete" if not failed else "partial",
        "overall": overall,
        "competencies": competencies,
        "answers_total": len(answers),
        "answers_scored": len(done),
        "answers_failed": failed,
        "strengths": strengths,
        "improvements": improvements,
        "answers": answers,
        "stage_timings": stage_timings([t.latencies for t in inputs.turns if t.latencies]),
        "models": models,
    }
    report["summary"] = _summary(report, ko)
    return report


def _evaluation_of(answer: Answer, evaluations: dict[Any, Evaluation]) -> Evaluation | None:
    """The answer's evaluation: keyed by its first turn; for rows from before answers were grouped
    (one per turn), the latest finished one of its turns."""
    own = evaluations.get(answer.first.turn_id)
    if own is not None:
        return own
    older = [evaluations[t.turn_id] for t in reversed(answer.turns) if t.turn_id in evaluations]
    return next((e for e in older if e.status == "done"), older[0] if older else None)


def _answer_entry(answer: Answer, evaluations: dict[Any, Evaluation]) -> dict[str, Any]:
    evaluation = _evaluation_of(answer, evaluations)
    status = evaluation.status if evaluation is not None else "missing"
    scores = evaluation.scores if evaluation is not None else {}
    covered = evaluation.last_seq if evaluation is not None else None
    # A score of an earlier version (a turn joined and its re-score failed) does not cover it all.
    complete = status == "done" and (covered is None or covered >= answer.last_seq)
    error = evaluation.error if evaluation is not None else "no evaluation was stored"
    if status == "running":
        error = error or "scoring did not finish"
    return {
        "turn_id": str(answer.first.turn_id),
        "answer_key": str(answer.key),
        "question_index": answer.key.question_index,
        "follow_up": answer.key.follow_up,
        "seq": answer.first.seq,
        "seqs": list(answer.seqs),
        "parts": [
            {
                "turn_id": str(t.turn_id),
                "seq": t.seq,
                "text": _clip(t.text),
            }
            for t in answer.turns
        ],
        "question": answer.question,
        "answer": _clip(answer.text),
        "status": status,
        "complete": complete,
        "scored_seq": covered,
        "error": None if complete else error,
        "attempts": evaluation.attempts if evaluation is not None else 0,
        "overall": scores.get("overall"),
        "competencies": scores.get("competencies", {}),
        "evidence": scores.get("evidence", []),
        "strengths": scores.get("strengths", []),
        "improvements": scores.get("improvements", []),
        "llm": scores.get("llm", {}),
        "models": scores.get("models", {}),
        "features": evaluation.features if evaluation is not None else {},
    }


def _clip(text: str) -> str:
    """The answer as the report shows it: its start, and its end when it is long (a monologue)."""
    if len(text) <= _ANSWER_CHARS:
        return text
    half = _ANSWER_CHARS // 2
    return f"{text[:half].rstrip()} … {text[-half:].lstrip()}"


def fallback_report(
    *, interview_id: Any, language: str, target_role: str | None, reason: str, answers_total: int
) -> dict[str, Any]:
    """The report written when the full one could not be built: every score unknown, and why."""
    ko = language == "ko"
    summary = (
        f"보고서를 완성하지 못했습니다 (답변 {answers_total}개). 사유: {reason}"
        if ko
        else f"The report could not be completed ({answers_total} answer(s)). Reason: {reason}"
    )
    return {
        "interview_id": str(interview_id),
        "language": language,
        "target_role": target_role,
        "scale": "0-100",
        "status": "partial",
        "fallback": reason,
        "overall": None,
        "competencies": dict.fromkeys(COMPETENCIES),
        "answers_total": answers_total,
        "answers_scored": 0,
        "answers_failed": [],
        "strengths": [],
        "improvements": [],
        "answers": [],
        "stage_timings": {},
        "models": {"names": {}, "llm_rubric_used": 0, "llm_rubric_rejected": {}},
        "summary": summary,
    }


def _overall_feedback(
    done: list[dict[str, Any]], competencies: dict[str, float | None], language: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ranked = sorted(((v, k) for k, v in competencies.items() if v is not None), reverse=True)
    strengths: list[dict[str, Any]] = []
    improvements: list[dict[str, Any]] = []
    for value, name in ranked:
        if value >= STRONG or (not strengths and value >= WEAK):
            best = max(done, key=lambda a: a["competencies"][name])
            strengths.append(_item(name, value, best, language, strength=True))
    for value, name in reversed(ranked):
        if value < STRONG and len(improvements) < 3 and name not in {s["competency"] for s in strengths}:
            worst = min(done, key=lambda a: a["competencies"][name])
            improvements.append(_item(name, value, worst, language, strength=False))
    return strengths[:3], improvements


def _item(
    name: str, value: float, answer: dict[str, Any], language: str, *, strength: bool
) -> dict[str, Any]:
    return {
        "competency": name,
        "score": value,
        "text": text_for(name, language, strength=strength),
        "evidence": answer["evidence"][0] if answer["evidence"] else answer["answer"][:160],
        "turn_id": answer["turn_id"],
    }


def _models(done: list[dict[str, Any]]) -> dict[str, Any]:
    names: dict[str, str] = {}
    rejected: Counter[str] = Counter()
    used = 0
    for answer in done:
        llm = answer["llm"] or {}
        if llm.get("ratings") is not None:
            used += 1
        elif llm.get("rejected"):
            rejected[str(llm["rejected"]).split(":")[0]] += 1
    for answer in done:
        evaluation_models = answer.get("models") or {}
        names.update(evaluation_models)
    return {"names": names, "llm_rubric_used": used, "llm_rubric_rejected": dict(rejected)}


def _summary(report: dict[str, Any], ko: bool) -> str:
    total, scored, failed = report["answers_total"], report["answers_scored"], len(report["answers_failed"])
    if report["overall"] is None:
        return "채점된 답변이 없습니다." if ko else "No answer could be scored."
    best = report["strengths"][0]["competency"] if report["strengths"] else None
    worst = report["improvements"][0]["competency"] if report["improvements"] else None
    if ko:
        text = f"종합 {report['overall']:.0f}/100점 (답변 {scored}/{total}개 채점)."
        if failed:
            text += f" {failed}개 답변은 채점하지 못했습니다."
        if best:
            text += f" 강점: {best}."
        if worst:
            text += f" 개선할 점: {worst}."
        return text
    text = f"Overall {report['overall']:.0f}/100 over {scored} of {total} answers."
    if failed:
        text += f" {failed} answer(s) could not be scored."
    if best:
        text += f" Strongest: {best}."
    if worst:
        text += f" To improve: {worst}."
    return text


def render_text(report: dict[str, Any]) -> str:
    """The report for a terminal (``interview report ID``)."""
    role = report.get("target_role") or "-"
    lines = [f"interview  {report['interview_id']}  ({report['language']}, role: {role})"]
    lines.append(f"status     {report['status']}  scale {report['scale']}")
    if report.get("fallback"):
        lines.append(f"note       the full report could not be built: {report['fallback']}")
    lines.append(f"summary    {report['summary']}")
    lines.append("")
    lines.append("competency      score")
    for name, value in report["competencies"].items():
        lines.append(f"  {name:<13} {'-' if value is None else f'{value:5.1f}'}")
    overall = report["overall"]
    lines.append(f"  {'overall':<13} {'-' if overall is None else f'{overall:5.1f}'}")
    for title, key in (("strengths", "strengths"), ("improvements", "improvements")):
        lines.append("")
        lines.append(title)
        for item in report[key]:
            lines.append(f"  - [{item['competency']}] {item['text']}")
            if item.get("evidence"):
                lines.append(f'      "{item["evidence"]}"')
    lines.append("")
    lines.append("answers")
    for n, a in enumerate(report["answers"], 1):
        score = "failed" if a["status"] != "done" else f"{a['overall']:.0f}"
        parts = len(a.get("seqs") or [a["seq"]])
        joined = f"  ({parts} turns)" if parts > 1 else ""
        lines.append(f"  {n:>2}. {score:>6}  Q: {a['question'][:90]}")
        lines.append(f"        A: {a['answer'][:110]}{joined}")
        if a["status"] != "done" or not a.get("complete", True):
            lines.append(f"        reason: {a['error']}")
        for item in a["strengths"][:1]:
            lines.append(f"        + {item['text']}")
        for item in a["improvements"][:2]:
            lines.append(f"        - {item['text']}")
    lines.append("")
    lines.append("stage timings (ms)   count    p50    p95")
    for key, t in report["stage_timings"].items():
        lines.append(f"  {key:<18} {t['count']:>5} {t['p50_ms']:>7.0f} {t['p95_ms']:>7.0f}")
    models = report["models"]
    names = ", ".join(f"{k}={v}" for k, v in sorted(models["names"].items())) or "-"
    lines.append("")
    lines.append(f"models     {names}; LLM rubric used for {models['llm_rubric_used']} answer(s)")
    return "\n".join(lines)
