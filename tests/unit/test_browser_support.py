"""The browser tests may skip on a developer's machine without Chromium, never in CI."""

from __future__ import annotations

import pytest

from tests.browser import support


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(support, "unavailable_reason", lambda: "Debian chromium is not installed")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium is not installed"):
        support.run_test_in_netns("tests/browser/netns_pages.py::test_anything")
