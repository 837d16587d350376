"""The outbox's writes on disk, so a serve process that dies (SIGKILL, the OOM killer, a deploy)
during a database outage loses none of them.

Each process appends to a journal file of its own in one directory: one JSON line per write
(``{"op": "write", "id", "kind", "data"}``), written with a single ``write`` and ``fdatasync``'d
before :meth:`Journal.append` returns, then a ``{"op": "done", "id"}`` line once the write is
stored (not synced: a lost ``done`` only means an idempotent write is applied once more). A crash
can tear only the last line, which a reader ignores. When no write is outstanding the file is
truncated, so it stays small in normal running; it is bounded by ``max_bytes`` (rewritten with only
the outstanding writes first, then refusing: :meth:`append` returns None and the caller keeps the
write in memory only, and says so).

Ownership is a ``flock`` held for the process's lifetime: a journal whose lock can be taken belongs
to a dead process (or to one that closed it with writes still outstanding) and is replayed by
whoever takes it, in order, then removed. A live process holds its own lock, so a peer sharing the
data dir never replays a live journal. A new journal is created and locked under a temporary name
and only then renamed into view, so nobody can take it between its creation and its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "journal-"
SUFFIX = ".jsonl"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
"""A turn's line is 0.5-2 KB: 16 MiB holds some 10,000 outstanding writes, hours of an outage at
several calls, while a replay of all of it at start-up still takes seconds."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    kind: str
    data: dict[str, Any]


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class Journal:
    """This process's journal. Not thread-safe: one event loop uses it."""

    def __init__(self, path: Path, fd: int, *, max_bytes: int) -> None:
        self.path = path
        self._fd = fd
        self._max_bytes = max_bytes
        self._outstanding: dict[str, bytes] = {}
        """Written and not yet done, in append order (dicts keep it): what a rewrite keeps."""
        self._size = os.fstat(fd).st_size
        self.refused = 0

    @classmethod
    def create(cls, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Journal:
        directory.mkdir(parents=True, exist_ok=True)
        path, fd = _create_locked(directory)
        log.info("write journal %s", path)
        return cls(path, fd, max_bytes=max_bytes)

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    @property
    def size(self) -> int:
        return self._size

    def append(self, kind: str, data: dict[str, Any]) -> str | None:
        """Make one write durable; its id, or None when the journal is full (nothing written).
        Raises OSError when the disk fails (or the journal is closed)."""
        if self._fd < 0:
            raise OSError(f"write journal {self.path} is closed")
        entry_id = uuid.uuid4().hex
        line = _line({"op": "write", "id": entry_id, "kind": kind, "data": data})
        if self._size + len(line) > self._max_bytes:
            self._rewrite()
            if self._size + len(line) > self._max_bytes:
                self.refused += 1
                return None
        self._write(line)
        os.fdatasync(self._fd)
        self._outstanding[entry_id] = line
        return entry_id

    def done(self, entry_id: str) -> None:
        """The write is stored (or superseded, or can never succeed): a replay skips it. Never
        raises: a mark that cannot be written only means one idempotent write replayed again."""
        if self._outstanding.pop(entry_id, None) is None or self._fd < 0:
            return
        try:
            if not self._outstanding:
                # Nothing outstanding: the whole file can go. Not synced either: if the truncation
                # is lost, a replay applies idempotent writes that are already stored.
                os.ftruncate(self._fd, 0)
                self._size = 0
                return
            self._write(_line({"op": "done", "id": entry_id}))
        except OSError as exc:
            log.warning("write journal %s: cannot mark %s done: %s", self.path, entry_id, exc)

    def close(self) -> None:
        """Release the journal: removed when nothing is outstanding, else left (unlocked) for the
        next start to replay."""
        if self._fd < 0:
            return
        if not self._outstanding:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        else:
            log.warning(
                "write journal %s keeps %d writes not stored: the next start replays them",
                self.path,
                len(self._outstanding),
            )
        os.close(self._fd)
        self._fd = -1

    def _write(self, line: bytes) -> None:
        written = os.write(self._fd, line)
        if written != len(line):  # a full disk: never leave half a line before the next one
            os.ftruncate(self._fd, self._size)
            raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
        self._size += written

    def _rewrite(self) -> None:
        """Keep only the outstanding writes (done lines and stored writes dropped): a new locked
        file renamed over this one, so at every moment the path holds a whole, locked journal."""
        if self._size == sum(len(line) for line in self._outstanding.values()):
            return  # nothing to drop
        tmp, fd = _create_locked(self.path.parent, publish=False)
        try:
            body = b"".join(self._outstanding.values())
            if os.write(fd, body) != len(body):
                raise OSError(f"short write to {tmp}")
            os.fdatasync(fd)
            os.rename(tmp, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        os.close(self._fd)
        self._fd = fd
        self._size = len(body)


def _create_locked(directory: Path, *, publish: bool = True) -> tuple[Path, int]:
    name = uuid.uuid4().hex
    tmp = directory / f".tmp-{name}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
    if not _lock(fd):  # a fresh file nobody else can know: cannot happen
        os.close(fd)
        raise OSError(f"cannot lock {tmp}")
    if not publish:
        return tmp, fd
    path = directory / f"{PREFIX}{name}{SUFFIX}"
    os.rename(tmp, path)
    _sync_dir(directory)
    return path, fd


def _sync_dir(directory: Path) -> None:
    """The new name itself survives a crash (a journal whose name is lost is never replayed)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_outstanding(path: Path) -> list[Entry]:
    """The writes of a journal file not marked done, in the order they were appended. A torn last
    line (the process died inside its write) is ignored; a bad line elsewhere is logged and
    skipped."""
    lines = path.read_bytes().split(b"\n")
    entries: dict[str, Entry] = {}
    for n, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            op, entry_id = record["op"], record["id"]
            if op == "write":
                entries[entry_id] = Entry(entry_id, record["kind"], record["data"])
            elif op == "done":
                entries.pop(entry_id, None)
            else:
                raise ValueError(f"unknown op {op!r}")
        except (ValueError, KeyError, TypeError) as exc:
            if n == len(lines) - 1:
                log.info("%s: torn last line ignored (%d bytes)", path, len(raw))
            else:
                log.error("%s: line %d unreadable, skipped: %s", path, n + 1, exc)
    return list(entries.values())


class Orphan:
    """A dead process's journal, locked by this one: read it, replay it, then :meth:`remove`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def entries(self) -> list[Entry]:
        return read_outstanding(self.path)

    def remove(self) -> None:
        """Unlinked while still locked: nobody can take it up again."""
        self.path.unlink()
        _sync_dir(self.path.parent)


@contextlib.contextmanager
def orphans(directory: Path) -> Iterator[list[Orphan]]:
    """Every journal in ``directory`` whose owner is gone, oldest first, each locked until the block
    ends. Live ones (their lock held) are left alone, and so are files removed meanwhile by a peer."""
    taken: list[tuple[Orphan, int]] = []
    try:
        if not directory.is_dir():
            yield []
            return
        _remove_dead_temporaries(directory)
        paths = sorted(directory.glob(f"{PREFIX}*{SUFFIX}"), key=_mtime)
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            if not _lock(fd) or not _same_file(path, fd):
                os.close(fd)
                continue
            taken.append((Orphan(path, fd), fd))
        yield [orphan for orphan, _ in taken]
    finally:
        for _, fd in taken:
            os.close(fd)


def _remove_dead_temporaries(directory: Path) -> None:
    """A temporary file whose lock can be taken was left by a process that died before renaming
    it: a new journal with nothing in it yet, or a rewrite whose original is still in place."""
    for tmp in directory.glob(".tmp-*"):
        try:
            fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            if _lock(fd) and _same_file(tmp, fd):
                tmp.unlink()
        finally:
            os.close(fd)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _same_file(path: Path, fd: int) -> bool:
    """The lock was taken on what ``path`` still names (not a file a peer replayed and removed, or
    one a rewrite replaced, between our open and our lock)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)
