"""Where the real-world fixtures live, and a skip when a clone does not have them.

Permissively licensed files are copied into ``tests/fixtures`` (see its PROVENANCE.md); the rest
live only in ``../shared/fixtures`` beside the repository on the development machines. A user's
clone has no such folder, so a test that needs one of those files skips with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def find_fixture(rel: str) -> Path | None:
    for root in (PROJECT_FIXTURES, SHARED_FIXTURES):
        path = root / rel
        if path.is_file():
            return path
    return None


def shared_fixture(rel: str) -> Path:
    """The fixture's path; skips the calling test when no copy is available."""
    path = find_fixture(rel)
    if path is None:
        pytest.skip(f"fixture {rel} absent (not copied into tests/fixtures; a user's clone has no ../shared)")
    return path


def fixture_candidates(folder: str) -> list[Path]:
    """Every available fixture file in ``folder`` (project copies first, no duplicates by name)."""
    found: dict[str, Path] = {}
    for root in (PROJECT_FIXTURES, SHARED_FIXTURES):
        base = root / folder
        if base.is_dir():
            for path in sorted(base.iterdir()):
                if path.is_file() and path.suffix in {".pdf", ".docx", ".txt"}:
                    found.setdefault(path.name, path)
    return list(found.values())
