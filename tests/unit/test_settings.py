from __future__ import annotations

from pathlib import Path

import pytest

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
