from __future__ import annotations

from pathlib import Path

import pytest

from signaling.redact import redact_url
from signaling.settings import load_settings


def test_defaults_mean_embedded_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DATABASE_URL", "REDIS_URL", "INTERVIEWER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.database_url is None
    assert s.redis_url is None
    assert s.data_dir.is_absolute()
    assert s.llm_threads == 1


def test_environment_and_file_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "interviewer.env"
    env_file.write_text("INTERVIEWER_PORT=9001\nINTERVIEWER_DEFAULT_LANGUAGE=ko\nREDIS_URL=redis://h:1/0\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    s = load_settings(env_file, max_upload_bytes=1024)
    assert s.port == 9001
    assert s.default_language == "ko"
    assert s.redis_url == "redis://h:1/0"
    assert s.database_url == "postgresql+asyncpg://u@h/db"
    assert s.max_upload_bytes == 1024


def test_missing_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="settings file not found"):
        load_settings(tmp_path / "nope.env")


def test_settings_are_immutable() -> None:
    s = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        s.port = 1  # type: ignore[misc]


def test_secret_key_is_never_printed() -> None:
    settings = load_settings(secret_key="do-not-print-this-key-0123456789")
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "do-not-print-this-key-0123456789"
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())):
        assert "do-not-print-this-key" not in text


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("redis://default:s3cret@redis:6379/0", "redis://default:***@redis:6379/0"),
        ("rediss://s3cret@cache.example:6380", "rediss://***@cache.example:6380"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        ("unix:///tmp/redis.sock?db=0", "unix:///tmp/redis.sock?db=0"),
        ("unix://:s3cret@/tmp/redis.sock", "unix://:***@/tmp/redis.sock"),
        ("redis://redis:6379/0?password=s3cret&db=1", "redis://redis:6379/0?password=***&db=1"),
        ("postgresql+asyncpg://app:s3cret@db:5432/x", "postgresql+asyncpg://app:***@db:5432/x"),
        ("redis://user:p@ss:w0rd@host:1/0", "redis://user:***@host:1/0"),
    ],
)
def test_urls_are_redacted(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
    assert "s3cret" not in redact_url(url)


def test_unparseable_url_is_masked_whole() -> None:
    assert redact_url("redis://[::1:bad") == "***"


def test_call_and_intake_bounds_have_safe_defaults() -> None:
    settings = load_settings()
    assert settings.intake == "interviewers"  # strangers cannot hand themselves join tokens
    assert 0 < settings.max_silent_s < settings.max_call_s
    assert settings.signin_attempts_per_minute > 0
    with pytest.raises(ValueError, match="max_silent_s"):
        load_settings(max_silent_s=0)
    with pytest.raises(ValueError, match="intake"):
        load_settings(intake="anyone")
