"""The write journal on a real file system: what a reader finds after appends, done marks, a torn
last line and a rewrite; that only a dead process's journal is taken up (a real child process
SIGKILLed, and a live journal beside it); the size bound; and the replay's order and its stops.
The database side of a replay is a recording stand-in here (the integration tests use Postgres)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from signaling import journal, room_writes
from signaling.journal import Entry, Journal, read_outstanding

# A child that journals three writes, marks the second done, says where, then waits to be killed.
CHILD = """
import sys, time
from pathlib import Path
from signaling.journal import Journal
j = Journal.create(Path(sys.argv[1]))
ids = [j.append("turn", {"n": n}) for n in range(3)]
j.done(ids[1])
print(j.path, flush=True)
time.sleep(600)
"""


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _kinds(entries: list[Entry]) -> list[tuple[str, object]]:
    return [(e.kind, e.data.get("n")) for e in entries]


def test_a_reader_finds_the_writes_not_done_in_order(tmp_path: Path) -> None:
    j = Journal.create(tmp_path)
    ids = [j.append("turn" if n % 2 else "state", {"n": n, "text": '답변 \u2028 "quoted"'}) for n in range(5)]
    assert None not in ids
    j.done(str(ids[0]))
    j.done(str(ids[3]))
    entries = read_outstanding(j.path)
    assert _kinds(entries) == [("turn", 1), ("state", 2), ("state", 4)]
    assert [e.id for e in entries] == [ids[1], ids[2], ids[4]]
    assert entries[0].data["text"] == '답변 \u2028 "quoted"'
    assert j.outstanding == 3
    j.close()


def test_a_journal_with_nothing_outstanding_is_emptied_then_removed(tmp_path: Path) -> None:
    j = Journal.create(tmp_path)
    a, b = j.append("turn", {"n": 0}), j.append("turn", {"n": 1})
    assert a is not None
    assert b is not None
    j.done(a)
    assert j.path.stat().st_size > 0
    j.done(b)
    assert j.path.stat().st_size == 0  # truncated: a long-running server's journal stays small
    j.close()
    assert list(tmp_path.iterdir()) == []


def test_a_closed_journal_with_writes_left_is_kept_for_the_next_start(tmp_path: Path) -> None:
    j = Journal.create(tmp_path)
    j.append("turn", {"n": 0})
    j.close()
    with journal.orphans(tmp_path) as found:
        assert [o.path for o in found] == [j.path]
        assert _kinds(found[0].entries()) == [("turn", 0)]


def test_a_torn_last_line_is_ignored_and_a_bad_middle_line_skipped(tmp_path: Path) -> None:
    path = tmp_path / "journal-x.jsonl"
    good = [json.dumps({"op": "write", "id": str(n), "kind": "turn", "data": {"n": n}}) for n in range(3)]
    path.write_text(good[0] + "\n" + "{not json\n" + good[1] + "\n" + good[2][: len(good[2]) // 2])
    assert _kinds(read_outstanding(path)) == [("turn", 0), ("turn", 1)]


def test_only_a_dead_process_journal_is_taken_up(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    dead_path = Path(child.stdout.readline().strip())
    live = Journal.create(tmp_path)  # this process's own, locked while it lives
    live.append("turn", {"n": 99})
    try:
        with journal.orphans(tmp_path) as found:
            assert found == []  # the child is alive: its journal is its own
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        with journal.orphans(tmp_path) as found:
            assert [o.path for o in found] == [dead_path]
            assert _kinds(found[0].entries()) == [("turn", 0), ("turn", 2)]
            with journal.orphans(tmp_path) as again:
                assert again == []  # taken: a second replayer at the same time gets nothing
            found[0].remove()
        assert sorted(tmp_path.iterdir()) == [live.path]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        child.stdout.close()
        live.close()


def test_the_size_bound_refuses_writes_and_a_rewrite_makes_room(tmp_path: Path) -> None:
    j = Journal.create(tmp_path, max_bytes=1000)
    ids: list[str] = []
    while (entry_id := j.append("turn", {"n": len(ids), "pad": "x" * 100})) is not None:
        ids.append(entry_id)
    assert 4 <= len(ids) < 10
    assert j.refused == 1
    assert j.size <= 1000
    j.done(ids[0])
    j.done(ids[1])
    # The done lines make the file longer, not shorter; the next append rewrites it without them.
    assert j.append("turn", {"n": "after", "pad": "x" * 100}) is not None
    assert j.size <= 1000
    assert [e.data["n"] for e in read_outstanding(j.path)] == [*range(2, len(ids)), "after"]
    with journal.orphans(tmp_path) as found:
        assert found == []  # the rewritten file is still this process's, locked
    j.close()


async def test_replay_applies_in_order_removes_and_stops_on_an_outage(tmp_path: Path) -> None:
    for n in range(2):
        j = Journal.create(tmp_path)
        for k in range(3):
            j.append("turn", {"n": f"{n}.{k}"})
        j.close()  # left with outstanding writes, as a dead process leaves it
        os.utime(j.path, (1000 + n, 1000 + n))  # the first journal is the older one

    applied: list[str] = []
    down_at = "1.1"

    async def apply(entry: Entry) -> None:
        if entry.data["n"] == "0.1":
            raise ValueError("a write that can never succeed")
        if entry.data["n"] == down_at:
            raise ConnectionRefusedError("database down")
        applied.append(entry.data["n"])

    done = await room_writes.replay(tmp_path, apply)
    assert applied == ["0.0", "0.2", "1.0"]
    assert (done.journals, done.stored, done.skipped, done.kept) == (2, 3, 1, 1)
    assert len(_names(tmp_path)) == 1  # the interrupted one is kept

    down_at = ""
    applied.clear()
    done = await room_writes.replay(tmp_path, apply)
    assert applied == ["1.0", "1.1", "1.2"]  # from its start again: the writes are idempotent
    assert _names(tmp_path) == []


async def test_replay_of_a_missing_directory_finds_nothing(tmp_path: Path) -> None:
    async def apply(entry: Entry) -> None:
        raise AssertionError("nothing to apply")

    done = await room_writes.replay(tmp_path / "none", apply)
    assert done.journals == 0


def test_a_temporary_file_left_by_a_dead_process_is_removed(tmp_path: Path) -> None:
    (tmp_path / ".tmp-abandoned").write_bytes(b"")
    with journal.orphans(tmp_path) as found:
        assert found == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("max_bytes", [0, 10])
def test_a_write_larger_than_the_bound_is_refused_not_raised(tmp_path: Path, max_bytes: int) -> None:
    j = Journal.create(tmp_path, max_bytes=max_bytes)
    assert j.append("turn", {"n": 0}) is None
    assert j.refused == 1
    j.close()
