"""Browser tests run inside a private network namespace (see ``support``). ``test_*.py`` here are thin:
each re-executes its real body (in ``netns_*.py``, collected only when named) in a child pytest
inside the namespace, which reports its outcome back through a small JSON file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser import support


def pytest_configure(config: pytest.Config) -> None:
    if support.inside_netns() and os.environ.get("INTERVIEWER_NETNS_READY") != "1":
        support.setup_network()
        os.environ["INTERVIEWER_NETNS_READY"] = "1"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get(support.RESULT_ENV)
    if not support.inside_netns() or not path:
        return
    result = Path(path)
    previous = json.loads(result.read_text()) if result.exists() else {"outcome": "passed", "message": ""}
    if previous["outcome"] != "passed":
        return  # keep the first failure or skip
    if report.failed:
        previous = {"outcome": "failed", "message": f"[{report.when}] {report.longreprtext}"}
    elif report.skipped:
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        previous = {"outcome": "skipped", "message": message}
    result.write_text(json.dumps(previous))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    support.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return support.ARTIFACTS
