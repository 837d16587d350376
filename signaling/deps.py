"""FastAPI dependencies (``Annotated`` aliases) over the runtime in ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from signaling.runtime import Runtime
from signaling.settings import Settings


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def app_settings(conn: HTTPConnection) -> Settings:
    """The settings ``create_app`` was given: its access policies (who may create interviews,
    sign-in limits). Tests run apps with different policies over one shared runtime."""
    settings: Settings | None = getattr(conn.app.state, "settings", None)
    if settings is None:
        runtime: Runtime = conn.app.state.runtime
        return runtime.settings
    return settings
