"""Interviewer accounts, password hashes and session cookies."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from agent.errors import InvalidInputError, TokenError
from signaling import cli
from signaling.auth import InterviewerStore, SessionSigner, check_password, hash_password

SECRET = b"s" * 32


def test_hash_round_trip_and_salt() -> None:
    first = hash_password("a long passphrase")
    assert first.startswith("scrypt$")
    assert first != hash_password("a long passphrase")  # salted
    assert check_password("a long passphrase", first)
    assert not check_password("a long passphrasE", first)
    assert not check_password("anything", "not$a$valid$hash$at$all")
    assert not check_password("anything", "md5$1$1$1$00$00")


def test_store_creates_checks_and_protects_the_file(tmp_path: Path) -> None:
    store = InterviewerStore(tmp_path / "sub" / "interviewers.json")
    assert not store.exists()
    assert not store.verify("kim", "whatever it is")
    store.create("kim", "0123456789")
    assert store.exists()
    assert store.names() == ["kim"]
    assert store.verify("kim", "0123456789")
    assert not store.verify("kim", "0123456780")
    assert not store.verify("lee", "0123456789")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert "0123456789" not in store.path.read_text()
    with pytest.raises(InvalidInputError, match="already exists"):
        store.create("kim", "another password")
    store.create("kim", "another password", replace=True)
    assert store.verify("kim", "another password")
    with pytest.raises(InvalidInputError, match="at least"):
        store.create("park", "short")
    with pytest.raises(InvalidInputError, match="letters"):
        store.create("bad name!", "0123456789")


def test_session_cookie_is_signed_scoped_and_expires() -> None:
    signer = SessionSigner(SECRET)
    cookie = signer.issue("kim", ttl_s=60)
    assert signer.verify(cookie).name == "kim"
    body, signature = cookie.split(".")
    with pytest.raises(TokenError, match="invalid"):
        signer.verify(f"{body}.{signature[:-2]}xx")
    with pytest.raises(TokenError, match="invalid"):
        SessionSigner(b"t" * 32).verify(cookie)
    with pytest.raises(TokenError, match="expired"):
        signer.verify(signer.issue("kim", ttl_s=-1))
    with pytest.raises(TokenError, match="sign in"):
        signer.verify(None)
    with pytest.raises(TokenError):
        signer.verify("garbage")


def test_create_interviewer_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a good password\n"))
    code = cli.main(["--data-dir", str(tmp_path), "create-interviewer", "kim", "--password-stdin"])
    assert code == 0
    data = json.loads((tmp_path / "interviewers.json").read_text())
    assert list(data["interviewers"]) == ["kim"]
    assert InterviewerStore(tmp_path / "interviewers.json").verify("kim", "a good password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["--data-dir", str(tmp_path), "create-interviewer", "lee", "--password-stdin"]) == 2


def test_store_reads_the_file_only_when_it_changed(tmp_path: Path) -> None:
    store = InterviewerStore(tmp_path / "interviewers.json")
    store.create("kim", "0123456789")
    assert store.verify("kim", "0123456789")
    reads = store.reads
    for _ in range(5):
        assert store.exists()
        assert store.names() == ["kim"]
    assert store.reads == reads  # cached: same mtime, size and inode
    # Another process (the CLI) adds an account: the server sees it on the next check.
    InterviewerStore(store.path).create("lee", "9876543210")
    assert store.verify("lee", "9876543210")
    assert store.reads == reads + 1
    store.path.unlink()
    assert not store.exists()


async def test_sign_in_check_runs_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import threading

    from signaling import auth

    store = InterviewerStore(tmp_path / "interviewers.json")
    store.create("kim", "0123456789")
    threads: list[int] = []
    real = auth.check_password

    def spy(password: str, encoded: str) -> bool:
        threads.append(threading.get_ident())
        return real(password, encoded)

    monkeypatch.setattr(auth, "check_password", spy)
    loop_thread = threading.get_ident()
    results = await asyncio.gather(store.averify("kim", "0123456789"), store.averify("nobody", "x" * 10))
    assert list(results) == [True, False]
    assert len(threads) == 2  # an unknown name is checked too (same cost as a known one)
    assert loop_thread not in threads
