"""The grouped answers as a person reads them, in real Chromium (Debian's, driven by playwright):
a fixture interview whose first answer was given in two turns around a line the candidate cut off,
with a follow-up, on the dashboard and the report page, in English and in Korean. No call is made
(no WebRTC), so no network namespace is needed; screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, async_playwright

from db import queries
from db.engine import unit_of_work
from evaluation import store
from evaluation.answers import group_answers
from evaluation.report import build_report
from signaling.app import create_app
from signaling.auth import InterviewerStore
from signaling.background import serve_in_background
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.browser import support
from tests.evaluation_answer_helpers import plain_interview
from tests.evaluation_helpers import end_interview

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "interviewer password"
COMPETENCIES = ("relevance", "depth", "structure", "communication", "role_fit")

SCRIPTS = {
    "en": [
        ("interviewer", "greeting", 0, False, "Welcome. Tell me about the billing migration you led."),
        ("candidate", "answer", 0, False, "We moved the billing jobs from cron boxes to Kubernetes."),
        ("interviewer", "next", 1, True, "Thank you. Next, how do you"),
        ("candidate", "answer", 0, False, "And the result was a 40% cut in infrastructure cost."),
        ("interviewer", "follow_up", 0, False, "How did you measure that saving?"),
        ("candidate", "answer", 0, False, "From the monthly cloud bill, before and after."),
        ("interviewer", "next", 1, False, "How do you test changes between teams?"),
        ("candidate", "answer", 1, False, "With contract tests that run in each team's pipeline."),
        ("interviewer", "close", 1, False, "Thank you, that is all for today."),
    ],
    "ko": [
        ("interviewer", "greeting", 0, False, "안녕하세요. 주도하신 결제 시스템 이전에 대해 말씀해 주세요."),
        ("candidate", "answer", 0, False, "크론 서버에서 돌던 결제 배치를 쿠버네티스로 옮겼습니다."),
        ("interviewer", "next", 1, True, "감사합니다. 다음으로"),
        ("candidate", "answer", 0, False, "그 결과 인프라 비용을 40% 줄였습니다."),
        ("interviewer", "follow_up", 0, False, "절감 효과는 어떻게 측정하셨나요?"),
        ("candidate", "answer", 0, False, "이전 전후의 월별 클라우드 청구서를 비교했습니다."),
        ("interviewer", "next", 1, False, "팀 사이의 변경은 어떻게 테스트하시나요?"),
        ("candidate", "answer", 1, False, "각 팀 파이프라인에서 도는 계약 테스트로 확인합니다."),
        ("interviewer", "close", 1, False, "감사합니다. 오늘 면접은 여기까지입니다."),
    ],
}


@pytest.fixture(scope="module")
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    reason = support.chromium_path() is None
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("Debian chromium is not installed", pytrace=False)
        pytest.skip("Debian chromium is not installed")
    InterviewerStore(settings.data_dir / "interviewers.json").create("lee", PASSWORD, replace=True)
    async with serve_in_background(create_app(settings, runtime=runtime), lifespan="off") as url:
        yield url


async def _fixture_interview(runtime: Runtime, language: str) -> uuid.UUID:
    """The script's turns stored as the call stores them, each answer scored (scores written the
    way the worker writes them) and the report built by the real report code."""
    script = SCRIPTS[language]
    questions = [script[0][4], script[6][4]]
    interview_id, qids = await plain_interview(runtime, language, questions)
    async with unit_of_work(runtime.sessions) as session:
        for n, (speaker, kind, q, interrupted, text) in enumerate(script):
            await queries.add_turn(
                session,
                interview_id=interview_id,
                question_id=qids[q],
                speaker=speaker,
                text_=text,
                started_s=n * 10.0,
                ended_s=n * 10.0 + 6.0,
                latencies={"kind": kind, "interrupted": interrupted, "first_audio_s": 0.4},
                audio_path=None,
            )
    async with unit_of_work(runtime.sessions) as session:
        answers = group_answers(await store.interview_turns(session, interview_id))
        for i, answer in enumerate(answers):
            overall = 72.0 - 9 * i
            await store.save_evaluation(
                session,
                turn_id=answer.first.turn_id,
                interview_id=interview_id,
                status="done",
                scores={
                    "overall": overall,
                    "competencies": dict.fromkeys(COMPETENCIES, overall),
                    "evidence": [answer.turns[-1].text],
                    "strengths": [],
                    "improvements": [],
                },
                features={},
                overall=overall,
                error=None,
                last_seq=answer.last_seq,
                turn_count=len(answer.turns),
            )
    await end_interview(runtime, interview_id)
    async with unit_of_work(runtime.sessions) as session:
        inputs = await store.report_inputs(session, interview_id)
        assert inputs is not None
        report = build_report(inputs)
        await store.upsert_report(
            session,
            interview_id=interview_id,
            summary=report["summary"],
            scores={"overall": report["overall"]},
            status=report["status"],
            details=report,
        )
    return interview_id


async def _sign_in(page: Page) -> None:
    await page.fill("#signin-name", "lee")
    await page.fill("#signin-password", PASSWORD)
    await page.press("#signin-password", "Enter")


async def _set_language(page: Page, language: str) -> None:
    if await page.evaluate("document.documentElement.lang") != language:
        await page.click("#lang-toggle")


@pytest.mark.parametrize("language", ["en", "ko"])
async def test_an_answer_given_in_two_turns_reads_as_one_on_the_dashboard_and_the_report(
    server: str, runtime: Runtime, artifacts: Path, language: str
) -> None:
    interview_id = await _fixture_interview(runtime, language)
    script = SCRIPTS[language]
    async with async_playwright() as pw:
        browser = await support.launch(pw, fake_audio=None, grant_microphone=False)
        try:
            errors: list[str] = []
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{server}/dashboard#room={interview_id}")
            await _sign_in(page)
            await page.wait_for_function("document.querySelectorAll('#transcript li.answer').length === 3")
            await _set_language(page, language)
            await page.wait_for_function(
                "[...document.querySelectorAll('#transcript li.answer [data-role=score]')]"
                ".every((b) => /\\d/.test(b.textContent))"
            )
            blocks = page.locator("#transcript li.answer")
            first = blocks.nth(0)
            # Two turns, one block: both parts, the cut line inside it, one score.
            assert await first.locator("p.part").count() == 2
            assert await first.locator("p.cut").count() == 1
            assert script[2][4] in (await first.locator("p.cut").text_content() or "")
            assert "72" in (await first.locator("[data-role=score]").text_content() or "")
            assert await blocks.nth(1).locator("p.part").count() == 1  # the follow-up's answer
            follow_up = await blocks.nth(1).locator(".meta").text_content() or ""
            assert ("follow-up 1" if language == "en" else "추가 질문 1") in follow_up
            # The cut line is not a line of its own: of the 5 interviewer lines, 4 stand alone.
            assert await page.locator("#transcript > li.interviewer").count() == 4
            await page.screenshot(path=artifacts / f"answers-dashboard-{language}.png", full_page=True)

            report = await context.new_page()  # signed in: the same cookies
            report.on("pageerror", lambda exc: errors.append(str(exc)))
            report.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await report.goto(f"{server}/report/{interview_id}")
            try:
                await report.wait_for_function("window.reportPage?.state === 'ready'")
            except PlaywrightError as exc:
                state = await report.evaluate(
                    "fetch(location.pathname.replace('/report/', '/api/interviews/') + '/report')"
                    ".then(async (r) => [window.reportPage?.state, r.status, await r.text()])"
                )
                raise AssertionError(f"report page not ready: {state} {errors}") from exc
            await _set_language(report, language)
            cards = report.locator("#answers .answer-card")
            assert await cards.count() == 3
            card = await cards.nth(0).text_content() or ""
            assert script[1][4] in card
            assert script[3][4] in card
            assert ("given in 2 parts" if language == "en" else "2번에 나누어 답변") in card
            assert await report.locator("#transcript li.answer").count() == 3
            await report.screenshot(path=artifacts / f"answers-report-{language}.png", full_page=True)
            assert errors == []
        finally:
            await browser.close()
