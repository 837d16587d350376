"""The schemathesis fuzz of bench/api_fuzz.py, bounded, in the suite: a real ``serve`` process on a
temporary data dir, every operation of its OpenAPI schema, valid and invalid requests as three
kinds of caller. No response may be a server error or break the schema. The bound is a number of
examples per operation (so the run is the same size on any machine), not a time."""

from __future__ import annotations

import pytest

from bench import api_fuzz

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_whole_api_fuzzed_without_server_errors_or_schema_violations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = api_fuzz.main(["--examples", "8", "--seed", "7"])
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    figures = dict(item.split("=", 1) for item in last.split())
    assert int(figures["operations"]) >= 13, last  # the whole surface was found
    assert int(figures["requests"]) >= 13 * 8, last
    assert figures["server_errors"] == "0", out
    assert figures["schema_violations"] == "0", out
    assert code == 0
