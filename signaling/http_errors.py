"""Domain errors -> HTTP responses. The only place that knows both."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from agent import errors

log = logging.getLogger(__name__)

STATUS: dict[type[errors.InterviewerError], int] = {
    errors.NotFoundError: 404,
    errors.TokenError: 401,
    errors.ConflictError: 409,
    errors.InvalidSessionDescriptionError: 400,
    errors.InvalidInputError: 422,
    errors.UploadTooLargeError: 413,
    errors.UnsupportedFileTypeError: 415,
    errors.UnreadableDocumentError: 422,
    errors.CapacityError: 503,
    errors.ModelUnavailableError: 503,
    errors.ModelTimeoutError: 503,
    errors.ModelError: 503,
}


def status_for(exc: errors.InterviewerError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(code: str, message: str, *, retryable: bool = False) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "retryable": retryable}}


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.InterviewerError)
    async def _domain(_: Request, exc: errors.InterviewerError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed: %s", exc)
        headers = {"Retry-After": "5"} if exc.retryable else None
        return JSONResponse(
            error_body(type(exc).__name__, exc.message, retryable=exc.retryable), status, headers=headers
        )
