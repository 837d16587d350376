from __future__ import annotations

from pathlib import Path

from db.embedded import EmbeddedRedis, private_parents


def test_private_parents_lists_only_closed_folders(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    inner = closed / "open" / "data"
    inner.mkdir(parents=True)
    closed.chmod(0o700)
    (closed / "open").chmod(0o755)
    tmp_path.chmod(0o755)
    found = private_parents(inner)
    assert closed in found
    assert closed / "open" not in found


def test_long_data_dir_moves_the_redis_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    redis = EmbeddedRedis(deep)
    assert len(str(redis.socket_path)) <= 100
    assert redis.url.startswith("unix://")
    short = EmbeddedRedis(tmp_path)
    assert short.socket_path.parent == tmp_path / "redis"
