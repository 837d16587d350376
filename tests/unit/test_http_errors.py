"""Every failure leaves as one JSON shape with the right status: database errors caused by the
client's input are 4xx, our own failures 5xx without internals, rate limits with Retry-After."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from agent.errors import RateLimitedError, RecordingUnavailableError
from signaling import http_errors


class _DriverError(Exception):
    """Stands in for the database driver's own exception that SQLAlchemy wraps."""


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    http_errors.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    # raise_app_exceptions=False: Starlette re-raises unhandled errors after answering, as a real
    # server logs them; the client must still get the JSON 500.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (
            sa_exc.DataError("SELECT $1", (2**31,), _DriverError("value out of int32 range")),
            422,
            "InvalidValue",
        ),
        (sa_exc.IntegrityError("INSERT", {}, _DriverError("duplicate key")), 409, "Conflict"),
        (
            sa_exc.OperationalError("SELECT 1", {}, _DriverError("connection refused")),
            503,
            "DatabaseUnavailable",
        ),
        (
            sa_exc.InterfaceError("SELECT 1", {}, _DriverError("connection closed")),
            503,
            "DatabaseUnavailable",
        ),
        (sa_exc.ProgrammingError("SELEKT", {}, _DriverError("syntax error")), 500, "InternalError"),
    ],
)
async def test_database_errors_map_to_statuses(error: Exception, status: int, code: str) -> None:
    resp = await _get(_app(error))
    assert resp.status_code == status
    body = resp.json()["error"]
    assert body["code"] == code
    # Neither the statement nor its parameters leave the server.
    for internal in ("SELECT", "INSERT", "2147483648", "int32", "duplicate"):
        assert internal not in resp.text
    assert body["retryable"] is (status == 503)
    assert ("retry-after" in resp.headers) is (status == 503)


async def test_unexpected_error_is_a_json_500_without_internals() -> None:
    resp = await _get(_app(RuntimeError("secret internal detail")))
    assert resp.status_code == 500
    assert resp.json() == {
        "error": {"code": "InternalError", "message": "internal error", "retryable": False}
    }


async def test_rate_limited_carries_its_own_retry_after() -> None:
    resp = await _get(_app(RateLimitedError("slow down", retry_after_s=42)))
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "42"
    assert resp.json()["error"]["code"] == "RateLimitedError"


async def test_unreadable_recording_is_a_retryable_conflict() -> None:
    resp = await _get(_app(RecordingUnavailableError("being written")))
    assert resp.status_code == 409
    assert resp.json()["error"]["retryable"] is True
    assert resp.headers["retry-after"] == "5"


async def test_an_undecodable_body_is_a_422_in_the_one_error_shape() -> None:
    from pydantic import BaseModel

    class Body(BaseModel):
        name: str

    app = FastAPI()
    http_errors.install(app)

    @app.post("/things")
    async def things(body: Body) -> dict[str, str]:
        return {"name": body.name}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        bad = await client.post(
            "/things", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}
        )
        missing = await client.get("/nowhere")
        wrong_method = await client.delete("/things")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "ValidationError"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFound"
    assert wrong_method.status_code == 405
    assert "allow" in wrong_method.headers
