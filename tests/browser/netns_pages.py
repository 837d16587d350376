"""The pages in real Chromium, run inside the private network namespace by ``test_pages.py``.

A whole interview from the candidate page with a fake microphone (real server, aiortc, models,
Postgres, Redis), the dashboard watching that room while it runs, and the report page drawing its
chart once the report is pushed. Screenshots go to ``test-artifacts/browser``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jiwer
import pytest
from playwright.async_api import Page, async_playwright

from db import events, queries
from db.engine import unit_of_work
from db.models import Report
from signaling.app import create_app
from signaling.auth import InterviewerStore
from signaling.background import serve_in_background
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.browser import support
from tests.fixtures_paths import shared_fixture
from tests.resume_factory import EN_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "interviewer password"
ANSWERS = ("audio/en_librispeech_1089-134686-0000.flac", "audio/en_librispeech_1089-134686-0002.flac")
LEAD_S = 11.0
"""Fake-microphone silence before the first answer: the greeting and first question play first
(an earlier answer is a barge-in, which the interview also takes as the answer)."""
GAP_S = 9.0


@pytest.fixture(scope="module")
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    assert support.inside_netns(), "run through tests/browser/test_pages.py"
    InterviewerStore(settings.data_dir / "interviewers.json").create("lee", PASSWORD, replace=True)
    async with serve_in_background(create_app(settings, runtime=runtime), lifespan="off") as url:
        yield url
        if runtime.calls is not None:
            await runtime.calls.close()


def _norm(text: str) -> str:
    return re.sub(r"[^\w\s']", " ", text.lower()).strip()


async def _sign_in(page: Page, base_url: str, path: str) -> None:
    await page.goto(f"{base_url}{path}")
    await page.fill("#signin-name", "lee")
    await page.fill("#signin-password", PASSWORD)
    await page.press("#signin-password", "Enter")  # the keyboard submits the form


def _report_for(interview_id: str, turns: list[dict[str, Any]]) -> dict[str, Any]:
    """A report in ``evaluation.report.build_report``'s shape, for the page to draw (the scoring
    itself is the evaluation pipeline's and is tested there)."""
    competencies = {"communication": 74.0, "problem_solving": 58.5, "technical_depth": 41.0, "ownership": 66}
    answers = [
        {
            "turn_id": t["turn_id"],
            "seq": t["seq"],
            "question": "Tell me about your work.",
            "answer": t["text"],
            "status": "done",
            "overall": 60.0 + i,
            "competencies": competencies,
            "strengths": ["Clear structure."],
            "improvements": ["Quantify the result."],
        }
        for i, t in enumerate(x for x in turns if x["speaker"] == "candidate")
    ]
    return {
        "interview_id": interview_id,
        "language": "en",
        "scale": "0-100",
        "status": "complete",
        "overall": 61.2,
        "competencies": competencies,
        "strengths": [
            {"competency": "communication", "score": 74.0, "text": "Explains clearly.", "evidence": "a quote"}
        ],
        "improvements": [
            {"competency": "technical_depth", "score": 41.0, "text": "Go deeper.", "evidence": "a quote too"}
        ],
        "answers": answers,
        "summary": "Overall 61/100 over the answers.",
    }


async def test_interview_dashboard_and_report(
    server: str, runtime: Runtime, artifacts: Path, tmp_path: Path
) -> None:
    answers = [shared_fixture(a) for a in ANSWERS]
    wav = support.answers_wav(answers, tmp_path / "microphone.wav", lead_s=LEAD_S, gap_s=GAP_S)
    resume = tmp_path / "jane_park.txt"
    resume.write_text(EN_RESUME)
    async with async_playwright() as pw:
        browser = await support.launch(pw, fake_audio=wav)
        try:
            board = await (await browser.new_context()).new_page()
            board_log = support.RequestLog().attach(board)
            await _sign_in(board, server, "/dashboard")
            await board.wait_for_selector("#board:not([hidden])")

            candidate = await (await browser.new_context()).new_page()
            log = support.RequestLog().attach(candidate)
            watched: dict[str, bool] = {}

            async def watch(interview_id: str) -> None:
                # While the call runs: the room shows up live on the dashboard without a reload,
                # and its transcript arrives line by line.
                row = f'tr.room[data-interview-id="{interview_id}"]'
                await board.wait_for_selector(f'{row}[data-state="live"]', timeout=60_000)
                await board.click(f"{row} button")
                await board.wait_for_selector("#transcript li.interviewer", timeout=120_000)
                # Listening in: the interviewer hears the call live (the server's mix of both sides
                # over a receive-only connection); the candidate's page says a listener may join.
                assert await candidate.locator(".listen-notice:not([hidden])").count() >= 1
                await board.click("#listen")
                await board.wait_for_function(
                    "window.listenState?.state === 'listening' && window.listenState.peakLevel > 0.01",
                    timeout=90_000,
                )
                watched["listened"] = True
                watched["live_line"] = await candidate.evaluate("!window.interviewPage.ended")
                await board.screenshot(path=artifacts / "dashboard-live.png", full_page=True)

            run = await support.candidate_interview(
                candidate, server, resume, questions=2, on_joined=watch, screenshots=artifacts
            )
            await candidate.screenshot(path=artifacts / "candidate-ended.png", full_page=True)

            # The server's transcript holds the fixtures' words.
            async with unit_of_work(runtime.sessions) as session:
                rows = await queries.list_turns(session, uuid.UUID(run.interview_id))
                interview = await queries.get_interview(session, uuid.UUID(run.interview_id))
            assert interview is not None
            assert interview.state == "ended"
            heard = " ".join(t.text for t in rows if t.speaker == "candidate")
            reference = " ".join(p.with_suffix(".txt").read_text() for p in answers)
            assert jiwer.wer(_norm(reference), _norm(heard)) < 0.35, heard

            # The page showed both sides' captions, the progress and the end.
            assert watched["live_line"], "the dashboard saw no transcript line while the call ran"
            lines = await candidate.locator("#captions li").count()
            assert lines == len(rows)
            assert await candidate.locator("#captions li.candidate").count() >= 1
            assert await candidate.locator("#captions li.interviewer").count() >= 3
            assert await candidate.get_attribute("body", "data-phase") == "ended"
            assert await candidate.get_attribute("#call-state", "data-state") == "ended"
            assert await candidate.text_content("#progress-text") == "Question 2 of 2"
            assert "complete" in (await candidate.text_content("#notice") or "")
            assert run.join_to_first_audio_ms is not None  # the interviewer was heard in the page
            assert run.rejoins == 0

            assert watched.get("listened")
            # The call's end ends the listening too (the server closes the listener's connection).
            await board.wait_for_function(
                "['stopped', 'idle'].includes(window.listenState.state)", timeout=30_000
            )
            assert board_log.by_endpoint()["POST /api/interviews/{id}/listen"] == 1

            # The dashboard followed the room to its end, every line pushed.
            row = f'tr.room[data-interview-id="{run.interview_id}"]'
            await board.wait_for_selector(f'{row}[data-state="ended"]')
            # Every stored turn shows once: an interviewer line, or a part of an answer (a candidate
            # who went on after a false end of turn adds a part to the same block), or a cut line.
            selector = "#transcript > li.interviewer, #transcript li.answer p.part, #transcript li p.cut"
            shown = f"document.querySelectorAll({selector!r}).length === {len(rows)}"
            await board.wait_for_function(shown)
            assert await board.locator("#transcript li.answer").count() >= 1
            assert await board.locator("#transcript li.candidate audio").count() >= 1
            await board.screenshot(path=artifacts / "dashboard-ended.png", full_page=True)

            # The report page waits for the report and draws it when it is pushed.
            report_page = await board.context.new_page()
            report_log = support.RequestLog().attach(report_page)
            await report_page.goto(f"{server}/report/{run.interview_id}")
            await report_page.wait_for_function("window.reportPage?.state === 'waiting'")
            turns = await report_page.evaluate("window.reportPage.review.turns")
            report = _report_for(run.interview_id, turns)
            async with unit_of_work(runtime.sessions) as session:
                session.add(
                    Report(
                        interview_id=uuid.UUID(run.interview_id),
                        summary=report["summary"],
                        scores={"overall": report["overall"], "competencies": report["competencies"]},
                        status="complete",
                        details=report,
                    )
                )
            await events.publish(
                runtime.redis,
                events.interview_channel(run.interview_id),
                {"type": "report_ready", "interview_id": run.interview_id, "status": "complete"},
            )
            await report_page.wait_for_function("window.reportPage?.state === 'ready'")
            bars = report_page.locator("#chart svg rect.bar")
            assert await bars.count() == 1 + len(report["competencies"])
            assert await bars.first.get_attribute("data-value") == "61.2"
            assert await report_page.locator("#strengths li blockquote").count() == 1
            assert await report_page.locator("#answers .answer-card").count() == len(report["answers"])
            assert await report_page.locator("#latency tbody tr").count() >= 1
            await report_page.screenshot(path=artifacts / "report.png", full_page=True)
            await report_page.emulate_media(media="print")
            assert not await report_page.locator("#print").is_visible()
            await report_page.screenshot(path=artifacts / "report-print.png", full_page=True)
            await report_page.pdf(path=str(artifacts / "report.pdf"))

            # Pushed, not polled: no endpoint asked twice by any page, one stream each.
            assert log.polling_endpoints() == [], log.by_endpoint()
            assert log.websockets == ["/api/live"]
            assert log.by_endpoint()["POST /api/interviews/{id}/offer"] == 1
            assert board_log.polling_endpoints() == [], board_log.by_endpoint()
            assert board_log.websockets == ["/api/live"]
            # The report is asked for twice: once on load (202, being written), once on the push.
            assert report_log.by_endpoint() == {
                "GET /report/{id}": 1,
                "GET /api/auth/me": 1,
                "GET /api/review/interviews/{id}": 1,
                "GET /api/interviews/{id}/report": 2,
            }
            assert report_log.websockets == ["/api/live"]
        finally:
            await browser.close()


async def test_denied_microphone_and_bad_links(server: str, artifacts: Path) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=120) as http:
        r = await http.post("/api/resumes", files={"file": ("jane.txt", EN_RESUME.encode())})
        r.raise_for_status()
        r = await http.post("/api/interviews", json={"resume_id": r.json()["id"], "question_count": 1})
        r.raise_for_status()
        interview = r.json()
    async with async_playwright() as pw:
        browser = await support.launch(pw, fake_audio=None, grant_microphone=False)
        try:
            page = await browser.new_page()
            await page.goto(f"{server}/interview/{interview['id']}?token={interview['join_token']}")
            await page.click("#mic-test")
            await page.wait_for_selector("#notice:not([hidden])")
            assert "blocked" in (await page.text_content("#mic-status") or "")
            assert await page.is_disabled("#join")
            await page.screenshot(path=artifacts / "candidate-mic-denied.png", full_page=True)

            # The same page in Korean.
            await page.click("#lang-toggle")
            assert await page.text_content("#mic-test") == "마이크 테스트"

            bad = await page.goto(f"{server}/interview/{interview['id']}?token=not-a-token")
            assert bad is not None
            assert bad.status == 401
            assert "not valid" in await page.content()
            await page.screenshot(path=artifacts / "link-invalid.png", full_page=True)
        finally:
            await browser.close()


async def test_lost_connection_rejoins_at_the_same_question(
    server: str, runtime: Runtime, artifacts: Path, tmp_path: Path
) -> None:
    """The server drops the call mid-question: the page says so, rejoins by itself, and the
    interviewer resumes the same question; the interview still completes."""
    answer = shared_fixture(ANSWERS[0])
    wav = support.answers_wav([answer], tmp_path / "microphone.wav", lead_s=30.0, gap_s=0)
    async with httpx.AsyncClient(base_url=server, timeout=120) as http:
        r = await http.post("/api/resumes", files={"file": ("jane.txt", EN_RESUME.encode())})
        r.raise_for_status()
        body = {"resume_id": r.json()["id"], "question_count": 1, "follow_ups": False}
        r = await http.post("/api/interviews", json=body)
        r.raise_for_status()
        interview = r.json()
    interview_id = uuid.UUID(interview["id"])
    assert runtime.calls is not None
    async with async_playwright() as pw:
        browser = await support.launch(pw, fake_audio=wav)
        try:
            page = await browser.new_page()
            await page.goto(f"{server}/interview/{interview['id']}?token={interview['join_token']}")
            await page.click("#mic-test")
            await page.click("#join:not([disabled])")
            await page.wait_for_function("window.interviewPage?.callState === 'speaking'", timeout=60_000)
            room = runtime.calls.rooms[interview_id]
            await room.pc.close()  # the connection is lost mid-greeting
            await page.wait_for_selector("#notice:has-text('Reconnecting')")
            await page.screenshot(path=artifacts / "candidate-reconnecting.png", full_page=True)
            await page.wait_for_function("window.interviewPage?.ended === true", timeout=180_000)
            assert await page.evaluate("window.interviewPage.metrics.rejoins") >= 1
        finally:
            await browser.close()
    async with unit_of_work(runtime.sessions) as session:
        rows = await queries.list_turns(session, interview_id)
    kinds = [t.latencies.get("kind") for t in rows if t.speaker == "interviewer"]
    assert "resume" in kinds, kinds  # "Welcome back. Let's continue where we left off." + the question
    assert any(t.speaker == "candidate" and t.text for t in rows)
