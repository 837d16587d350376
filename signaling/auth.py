"""Interviewer accounts and sign-in sessions.

Accounts live in a small JSON file under the data dir (``interviewers.json``, mode 0600), one scrypt
hash per name; ``interview create-interviewer NAME`` writes it. A signed-in browser holds an HttpOnly
cookie: HMAC-SHA256 over (name, expiry) with a key derived from the service secret, so any process
sharing the secret accepts it and nothing is stored server-side. Candidates never get one: their
links carry the per-interview join token instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.errors import InvalidInputError, TokenError
from signaling.tokens import SealedValues

SESSION_COOKIE = "interviewer_session"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD_CHARS = 10

# scrypt cost: n=2**15, r=8 takes ~60 ms and 32 MiB here; enough to make offline guessing slow, cheap
# enough that sign-in stays instant.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


# A hash of a random password: checking an unknown name costs the same time as a known one.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    return _DUMMY_HASH


class InterviewerStore:
    """The accounts file, re-read only when it changed (its mtime, size or inode), so an account
    created by the CLI while the server runs works at once without a file read per request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._accounts: dict[str, dict[str, str]] = {}
        self.reads = 0
        """How many times the file was parsed (tests check the cache with it)."""

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        # The file is replaced atomically (os.replace), so a new version has a new inode even when
        # it is written within the filesystem's mtime granularity.
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if stamp == self._stamp:
                return self._accounts
            try:
                data = json.loads(self.path.read_text())
            except FileNotFoundError:
                return {}
            self.reads += 1
            accounts = data.get("interviewers", {}) if isinstance(data, dict) else {}
            self._accounts = {str(k): v for k, v in accounts.items() if isinstance(v, dict)}
            self._stamp = stamp
            return self._accounts

    def names(self) -> list[str]:
        return sorted(self._load())

    def exists(self) -> bool:
        return bool(self._load())

    def create(self, name: str, password: str, *, replace: bool = False) -> None:
        if not NAME_PATTERN.match(name):
            raise InvalidInputError("a name is 1-64 letters, digits or . _ @ -")
        if len(password) < MIN_PASSWORD_CHARS:
            raise InvalidInputError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
        accounts = dict(self._load())
        if name in accounts and not replace:
            raise InvalidInputError(f"interviewer {name!r} already exists (use --replace to reset)")
        accounts[name] = {"hash": hash_password(password), "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        self._write({"version": 1, "interviewers": accounts})

    def _write(self, data: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".interviewers-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def verify(self, name: str, password: str) -> bool:
        """Blocking: scrypt takes ~60 ms of CPU. On the event loop use :meth:`averify`."""
        account = self._load().get(name)
        if account is None:
            check_password(password, _dummy_hash())
            return False
        return check_password(password, account.get("hash", ""))

    async def averify(self, name: str, password: str) -> bool:
        """:meth:`verify` on a worker thread: the loop that paces every call's 20 ms audio frames
        never waits for scrypt (hashlib releases the GIL while it works)."""
        return await asyncio.to_thread(self.verify, name, password)

    async def aexists(self) -> bool:
        return await asyncio.to_thread(self.exists)


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in interviewer."""

    name: str
    expires_at: float


class SessionSigner:
    """Signs and checks the interviewer session cookie."""

    def __init__(self, secret: bytes) -> None:
        # A key of its own: a join token can never pass as a session, nor the reverse.
        self._sealed = SealedValues(secret, label=b"interviewer-session-v1")

    def issue(self, name: str, *, ttl_s: float) -> str:
        return self._sealed.seal({"n": name}, ttl_s=ttl_s)

    def verify(self, value: str | None) -> Principal:
        payload = self._sealed.open(
            value,
            what="session",
            missing="sign in as an interviewer",
            expired="session expired: sign in again",
        )
        try:
            return Principal(str(payload["n"]), float(payload["e"]))
        except KeyError as exc:
            raise TokenError("malformed session") from exc
