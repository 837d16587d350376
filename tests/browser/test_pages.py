"""The pages in real Chromium (Debian's, driven by playwright) inside a private network namespace.

Each test runs its body (``netns_pages.py``) in a child pytest under ``unshare -n`` with ``lo`` and
a veth pair: Debian's Chromium gathers no loopback ICE candidates, and nothing leaves the namespace.
Skips only when Chromium or network namespaces are unavailable on the machine.
"""

from __future__ import annotations

import pytest

from tests.browser import support

pytestmark = [pytest.mark.slow]

BODY = "tests/browser/netns_pages.py"


def test_interview_dashboard_and_report() -> None:
    """A whole interview from the candidate page with a fake microphone, the dashboard watching it
    live, the report drawn when pushed; no page polls."""
    support.run_test_in_netns(f"{BODY}::test_interview_dashboard_and_report")


def test_denied_microphone_and_bad_links() -> None:
    support.run_test_in_netns(f"{BODY}::test_denied_microphone_and_bad_links")


def test_lost_connection_rejoins_at_the_same_question() -> None:
    support.run_test_in_netns(f"{BODY}::test_lost_connection_rejoins_at_the_same_question")
