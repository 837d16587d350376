"""The HTML pages: the candidate's call page (also behind each candidate link), the interviewer
dashboard and the report. A candidate link with a wrong or expired token gets a plain page in both
languages saying what happened and what to do, never a stack trace."""

from __future__ import annotations

import html
import uuid

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from agent.errors import TokenError
from signaling.deps import RuntimeDep
from web import STATIC_DIR

router = APIRouter(include_in_schema=False)

# The token rides in the candidate link's query: keep it out of caches and Referer headers.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

_MESSAGES: dict[str, tuple[str, str, str, str]] = {
    # reason: (English title, English text, Korean title, Korean text)
    "expired": (
        "This interview link has expired",
        "Links are valid for a limited time. Ask the person who invited you for a new link.",
        "면접 링크가 만료되었습니다",
        "링크는 정해진 시간 동안만 유효합니다. 초대한 담당자에게 새 링크를 요청해 주세요.",
    ),
    "invalid": (
        "This interview link is not valid",
        "The link may be incomplete or changed. Open it again from the original message, or ask for "
        "a new one.",
        "유효하지 않은 면접 링크입니다",
        "링크가 잘렸거나 바뀌었을 수 있습니다. 받은 메시지에서 다시 열거나 새 링크를 요청해 주세요.",
    ),
}


def link_error_page(reason: str, *, status: int = 401) -> HTMLResponse:
    en_title, en_text, ko_title, ko_text = _MESSAGES.get(reason, _MESSAGES["invalid"])
    body = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(en_title)} · {html.escape(ko_title)}</title>
<link rel="stylesheet" href="/static/css/app.css"></head>
<body class="notice-page">
<main class="card notice" data-reason="{html.escape(reason)}">
  <section lang="en"><h1>{html.escape(en_title)}</h1><p>{html.escape(en_text)}</p></section>
  <section lang="ko"><h1>{html.escape(ko_title)}</h1><p>{html.escape(ko_text)}</p></section>
  <p><a href="/">Start page · 처음 화면</a></p>
</main>
</body></html>"""
    return HTMLResponse(body, status_code=status, headers=PRIVATE_HEADERS)


@router.get("/interview/{interview_id}", response_class=HTMLResponse)
async def candidate_link(runtime: RuntimeDep, interview_id: str, token: str | None = None) -> Response:
    try:
        runtime.tokens.verify(token, interview_id=uuid.UUID(interview_id))
    except ValueError:
        return link_error_page("invalid", status=404)
    except TokenError as exc:
        return link_error_page("expired" if "expired" in exc.message else "invalid")
    return FileResponse(STATIC_DIR / "index.html", headers=PRIVATE_HEADERS)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard() -> FileResponse:
    return FileResponse(STATIC_DIR / "dashboard.html", headers={"Cache-Control": "no-store"})


@router.get("/report/{interview_id}", response_class=HTMLResponse)
async def report(interview_id: uuid.UUID) -> FileResponse:
    return FileResponse(STATIC_DIR / "report.html", headers={"Cache-Control": "no-store"})
