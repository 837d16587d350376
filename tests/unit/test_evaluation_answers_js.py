"""The pages group turns into answers with a JavaScript twin of ``evaluation.answers.group_answers``
(``web/static/js/transcript.js``, ``answerKeys``). Both run on the same transcripts here (the JS in
Node), so the dashboard and the report cannot drift from what is scored."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from evaluation.answers import TurnView, group_answers

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
const { answerKeys } = await import(process.argv[1]);
const cases = JSON.parse(process.argv[2]);
const out = cases.map((turns) => Object.fromEntries([...answerKeys(turns)].map(([seq, v]) => [seq, v.key])));
console.log(JSON.stringify(out));
"""


def iv(seq: int, kind: str | None, q: int | None, *, interrupted: bool = False) -> TurnView:
    return TurnView(seq, "interviewer", f"line {seq}", kind=kind, interrupted=interrupted, question_index=q)


def cand(seq: int, q: int | None) -> TurnView:
    return TurnView(seq, "candidate", f"answer {seq}", kind="answer", question_index=q)


CASES = [
    [iv(0, "greeting", 0), cand(1, 0), iv(2, "next", 1), cand(3, 1)],
    [iv(0, "greeting", 0), cand(1, 0), iv(2, "next", 1, interrupted=True), cand(3, 0), iv(4, "next", 1)],
    [iv(0, "greeting", 0), cand(1, None), iv(2, "next", 1, interrupted=True), cand(3, None)],
    [
        iv(0, "greeting", 0),
        cand(1, 0),
        iv(2, "follow_up", 0, interrupted=True),
        cand(3, 0),
        iv(4, "follow_up", 0),
        cand(5, 0),
        cand(6, 0),
        iv(7, "next", 1),
        cand(8, 1),
    ],
    [iv(0, "greeting", 0), cand(1, 0), iv(2, "next", 1), cand(3, 1), iv(4, "resume", 1), cand(5, 1)],
    [cand(1, None), iv(2, None, None), cand(3, None)],
    # cut lines the plan moved past anyway (a real call: the candidate spoke over each question's end)
    [iv(0, "greeting", 0, interrupted=True), cand(1, 0), iv(2, "next", 1, interrupted=True), cand(3, 1)],
]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_pages_group_answers_exactly_as_the_server_does() -> None:
    payload = [[asdict(t) for t in case] for case in CASES]
    module = (ROOT / "web/static/js/transcript.js").as_uri()
    done = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, module, json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    js = json.loads(done.stdout)
    python = [{str(t.seq): str(a.key) for a in group_answers(case) for t in a.turns} for case in CASES]
    assert js == python
    assert python[1] == {"1": "0.0", "3": "0.0"}  # the control: the cut line did not split it
