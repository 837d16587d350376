"""Domain errors -> HTTP responses. The only place that knows both."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent import errors

log = logging.getLogger(__name__)

STATUS: dict[type[errors.InterviewerError], int] = {
    errors.NotFoundError: 404,
    errors.TokenError: 401,
    errors.ConflictError: 409,
    errors.FeatureDisabledError: 403,
    errors.InvalidSessionDescriptionError: 400,
    errors.InvalidInputError: 422,
    errors.UploadTooLargeError: 413,
    errors.UnsupportedFileTypeError: 415,
    errors.UnreadableDocumentError: 422,
    errors.RateLimitedError: 429,
    errors.RecordingUnavailableError: 409,
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


def _driver_chain(exc: sa_exc.DBAPIError) -> list[BaseException]:
    """The driver's exception and what caused it (SQLAlchemy's adapter wraps asyncpg's)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc.orig
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def database_status(exc: sa_exc.DBAPIError) -> tuple[int, str, str]:
    """(status, code, message) for a database error. A value the database rejects (out of range,
    malformed) is the client's input, so a 4xx; a broken connection is ours and retryable."""
    sqlstates = {str(state) for e in _driver_chain(exc) if (state := getattr(e, "sqlstate", None))}
    # asyncpg checks argument types itself, before the server sees them, and SQLAlchemy wraps that
    # DataError as a bare DBAPIError: the driver's own class says what it was.
    client_side = any(type(e).__name__ == "DataError" for e in _driver_chain(exc))
    if isinstance(exc, sa_exc.DataError) or client_side or any(s.startswith("22") for s in sqlstates):
        return 422, "InvalidValue", "a value in the request is out of range or malformed"
    if isinstance(exc, sa_exc.IntegrityError) or any(s.startswith("23") for s in sqlstates):
        return 409, "Conflict", "the request conflicts with stored data"
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or exc.connection_invalidated:
        return 503, "DatabaseUnavailable", "the database is unavailable; retry soon"
    return 500, "InternalError", "the database could not complete the request"


def from_database_connect(exc: BaseException) -> bool:
    """Whether an OSError came from opening a database connection (the server restarting: its
    socket gone, its port refusing). SQLAlchemy passes those through unwrapped, so without this a
    request during a database restart was a 500 instead of a retryable 503."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(("sqlalchemy.pool", "asyncpg.connect")):
            return True
        tb = tb.tb_next
    return False


def install(app: FastAPI) -> None:
    @app.exception_handler(sa_exc.DBAPIError)
    async def _database(_: Request, exc: sa_exc.DBAPIError) -> JSONResponse:
        status, code, message = database_status(exc)
        # The statement and parameters stay in the log: they can hold personal data.
        if status >= 500:
            log.error("database error -> %d: %s", status, exc.orig, exc_info=exc)
        else:
            log.info("database error -> %d: %s", status, exc.orig)
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSONResponse(error_body(code, message, retryable=status == 503), status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse(error_body("ValidationError", message), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a body it cannot decode (bytes that are not UTF-8 under a JSON content
        # type) with a bare 400; it is a malformed request like any other: 422 in our one shape.
        if exc.status_code == 400:
            return JSONResponse(error_body("ValidationError", "the request body could not be parsed"), 422)
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        if not from_database_connect(exc):
            return await _unexpected(request, exc)
        log.error("database unreachable -> 503: %s", exc)
        body = error_body("DatabaseUnavailable", "the database is unavailable; retry soon", retryable=True)
        return JSONResponse(body, 503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Our error, not the client's: one JSON shape for every failure, and no traceback text out.
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(error_body("InternalError", "internal error"), 500)

    @app.exception_handler(errors.InterviewerError)
    async def _domain(_: Request, exc: errors.InterviewerError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed: %s", exc)
        retry_after = getattr(exc, "retry_after_s", 5)
        headers = {"Retry-After": str(retry_after)} if exc.retryable else None
        return JSONResponse(
            error_body(type(exc).__name__, exc.message, retryable=exc.retryable), status, headers=headers
        )
