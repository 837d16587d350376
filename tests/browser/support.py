"""Real Chromium against the real server, inside a private network namespace.

Debian's Chromium never gathers loopback ICE candidates, so a browser call to a server on the same
machine needs another interface: the browser tests (and ``bench.web_session``) re-execute themselves
under ``unshare -n`` where only ``lo`` and a veth pair with two test addresses exist. Nothing can
leave the namespace. Chromium is Debian's, driven by playwright with ``executable_path`` (no browser
download), with a fake microphone playing a WAV file.

Shared by the browser tests and the benchmark: the namespace, the browser, the request log that
proves the pages do not poll, and the candidate's whole interview driven through the page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import soundfile as sf
from playwright.async_api import Browser, Page, Playwright, Request, WebSocket

from media.files import load_audio

NETNS_ENV = "INTERVIEWER_NETNS"
"""Set to 1 inside the namespace (the re-executed process)."""
VETH = ("ivtest0", "ivtest1")
VETH_ADDRESSES = ("10.203.0.1/24", "10.203.0.2/24")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Headless tabs in the background must keep their timers and audio running.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_STATIC = ("/static/", "/favicon.ico")


def inside_netns() -> bool:
    return os.environ.get(NETNS_ENV) == "1"


def chromium_path() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def netns_prefix() -> list[str]:
    """``unshare -n`` as root; a user namespace mapped to root otherwise (so ``ip`` works inside)."""
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]


def unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if chromium_path() is None:
        return "Debian chromium is not installed (./run.sh installs it: apt-get install chromium)"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare (util-linux) or ip (iproute2) is missing"
    probe = subprocess.run([*netns_prefix(), "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a private network namespace here: {probe.stderr.strip() or probe.returncode}"
    return None


def setup_network() -> None:
    """Inside the namespace: ``lo`` up and a veth pair with two addresses (Chromium gathers those)."""
    ip = shutil.which("ip") or "ip"
    commands = [
        [ip, "link", "set", "lo", "up"],
        [ip, "link", "add", VETH[0], "type", "veth", "peer", "name", VETH[1]],
        [ip, "addr", "add", VETH_ADDRESSES[0], "dev", VETH[0]],
        [ip, "addr", "add", VETH_ADDRESSES[1], "dev", VETH[1]],
        [ip, "link", "set", VETH[0], "up"],
        [ip, "link", "set", VETH[1], "up"],
    ]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)


def reexec_in_netns(argv: list[str], *, env: dict[str, str] | None = None, timeout_s: float = 900) -> int:
    """Run ``python argv...`` inside a fresh namespace, streaming its output; returns its exit code."""
    full_env = {**os.environ, **(env or {}), NETNS_ENV: "1"}
    command = [*netns_prefix(), sys.executable, *argv]
    return subprocess.run(command, env=full_env, timeout=timeout_s, check=False).returncode


RESULT_ENV = "INTERVIEWER_NETNS_RESULT"


def run_test_in_netns(nodeid: str) -> None:
    """Run one ``netns_*.py`` test in a child pytest inside a fresh namespace and mirror its outcome:
    skip with the reason when the namespace or Chromium is unavailable (fail in CI, ``CI=true``),
    fail with the child's report."""
    import json
    import tempfile

    import pytest

    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            # A green CI with no browser test run proves nothing about the pages: run.sh installs
            # Chromium and iproute2, so their absence in CI is a broken install, not a skip.
            pytest.fail(f"the browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="netns-result-") as tmp:
        result = Path(tmp) / "result.json"
        code = reexec_in_netns(
            ["-m", "pytest", nodeid, "-p", "no:cacheprovider", "-q"], env={RESULT_ENV: str(result)}
        )
        outcome = json.loads(result.read_text()) if result.exists() else None
    if outcome is None:
        pytest.fail(f"{nodeid} did not report back from the network namespace (exit code {code})")
    if outcome["outcome"] == "skipped":
        pytest.skip(outcome["message"])
    if outcome["outcome"] != "passed" or code != 0:
        pytest.fail(f"{nodeid} failed inside the network namespace:\n{outcome['message']}", pytrace=False)


def answers_wav(paths: list[Path], out: Path, *, lead_s: float, gap_s: float, rate: int = 48_000) -> Path:
    """One WAV for the fake microphone: silence while the greeting and first question play, then
    each answer with a pause between (the file plays once: ``%noloop``)."""
    parts: list[np.ndarray] = [np.zeros(round(lead_s * rate), dtype=np.int16)]
    for i, path in enumerate(paths):
        if i:
            parts.append(np.zeros(round(gap_s * rate), dtype=np.int16))
        parts.append(load_audio(path, rate).astype(np.int16))
    parts.append(np.zeros(rate, dtype=np.int16))
    sf.write(out, np.concatenate(parts), rate, subtype="PCM_16")
    return out


async def launch(
    playwright: Playwright, *, fake_audio: Path | None, grant_microphone: bool = True
) -> Browser:
    args = list(CHROMIUM_FLAGS)
    if grant_microphone:
        args.append("--use-fake-ui-for-media-stream")
    args.append("--use-fake-device-for-media-stream")
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}%noloop")
    return await playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=args)


def endpoint(url: str) -> str:
    """``GET /api/interviews/{id}/offer``-style key: ids folded so repeats of one endpoint add up."""
    return _UUID.sub("{id}", urlsplit(url).path)


@dataclass
class RequestLog:
    """Every HTTP request and WebSocket a page opens (static files counted apart)."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    static: int = 0
    websockets: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> RequestLog:
        page.on("request", self._on_request)
        page.on("websocket", self._on_websocket)
        return self

    def _on_request(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if path.startswith(_STATIC):
            self.static += 1
        elif request.resource_type not in ("websocket",):
            self.requests.append((request.method, endpoint(request.url)))

    def _on_websocket(self, ws: WebSocket) -> None:
        self.websockets.append(endpoint(ws.url))

    def by_endpoint(self) -> Counter[str]:
        return Counter(f"{method} {path}" for method, path in self.requests)

    def polling_endpoints(self) -> list[str]:
        """Endpoints asked more than once: a page that polls shows up here."""
        return sorted(key for key, count in self.by_endpoint().items() if count > 1)


@dataclass
class CandidateRun:
    interview_id: str
    join_to_first_audio_ms: float | None
    captions: list[dict[str, Any]]
    rejoins: int


async def candidate_interview(
    page: Page,
    base_url: str,
    resume: Path,
    *,
    questions: int,
    on_joined: Any = None,
    end_timeout_s: float = 240,
    screenshots: Path | None = None,
) -> CandidateRun:
    """From the start page: upload the resume, prepare the interview, check the microphone, join,
    and wait until the interview has ended. ``on_joined`` (async, gets the interview id) runs while
    the call goes on, e.g. to watch it from the dashboard."""
    await page.goto(f"{base_url}/?questions={questions}&follow_ups=0")
    await page.set_input_files("#resume-file", str(resume))
    await page.click("#upload")
    await page.wait_for_selector("#parsed:not([hidden])")
    await page.click("#create")
    await page.wait_for_selector("#step-mic:not([hidden])", timeout=120_000)
    interview_id = _UUID.search(page.url)
    assert interview_id is not None, page.url
    await page.click("#mic-test")
    await page.wait_for_selector("#join:not([disabled])")
    if screenshots is not None:
        await page.screenshot(path=screenshots / "candidate-mic-check.png", full_page=True)
    await page.click("#join")
    await page.wait_for_selector("#step-call:not([hidden])")
    if on_joined is not None:
        await on_joined(interview_id.group(0))
    await page.wait_for_function("window.interviewPage?.ended === true", timeout=end_timeout_s * 1000)
    metrics = await page.evaluate("window.interviewPage.metrics")
    captions = await page.evaluate("window.interviewPage.turns")
    return CandidateRun(
        interview_id=interview_id.group(0),
        join_to_first_audio_ms=metrics.get("joinToFirstAudioMs"),
        captions=captions,
        rejoins=int(metrics.get("rejoins", 0)),
    )
