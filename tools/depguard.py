"""Every dependency names a registry release: no local file, no path, no direct URL.

A ``name @ file:///tmp/...whl`` line in constraints.txt once broke every fresh install while CI,
running on the machine that still had the file, stayed green. This guard runs first in ``./run.sh``
(so in CI too), before pip sees any file, and names the offending line. It uses only the standard
library so that it can run before the virtualenv exists.

    python3 tools/depguard.py                 check every dependency file of the repository
    python3 tools/depguard.py --freeze FILE   regenerate FILE (constraints.txt) from `pip freeze`
                                              read on stdin; refuses to write a line that fails

Rules:
- constraints files hold ``name==version`` lines only (an environment marker may follow);
- requirements in pyproject.toml and requirements files are PEP 508 names with specifiers, never a
  direct reference (``name @ url``), a URL, a path or an archive file;
- pip options that point pip at files or other indexes (``-e``, ``-f``, ``--index-url``, ...) are
  refused in dependency files: they are a machine's setting, not the project's;
- a local version label (``torch==2.13.0+cpu``) is not a registry release: pin the public version
  (``==2.13.0`` still accepts the local build on a machine that has one).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = frozenset({".git", ".venv", ".cache", "data", "node_modules", "build", "test-artifacts"})

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PIN = re.compile(rf"^(?P<name>{_NAME})==(?P<version>[0-9][A-Za-z0-9.!+_-]*)\s*(?:;.*)?$")
_REQUIREMENT = re.compile(rf"^(?P<name>{_NAME})\s*(?:\[[^\]]*\])?\s*(?P<rest>.*)$")
_ARCHIVE = re.compile(r"\.(?:whl|tar\.gz|tgz|tar\.bz2|zip)\b", re.IGNORECASE)
_FILE_OPTIONS = (
    "-e",
    "--editable",
    "-f",
    "--find-links",
    "-i",
    "--index-url",
    "--extra-index-url",
    "--trusted-host",
    "--no-index",
)


@dataclass(frozen=True, slots=True)
class Finding:
    path: Path
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.text!r}: {self.reason}"


def requirement_problem(requirement: str) -> str | None:
    """Why a PEP 508 requirement string is not a plain registry requirement, or None if it is."""
    text = requirement.strip()
    spec = text.split(";", 1)[0]
    if "://" in text or re.search(r"\bfile:", text):
        return "names a URL or a file: depend on a registry release (name==version)"
    if "@" in spec:
        return "is a direct reference (name @ ...): depend on a registry release (name==version)"
    if text.startswith((".", "/", "~")) or "/" in spec or "\\" in spec:
        return "is a path: depend on a registry release (name==version)"
    if _ARCHIVE.search(spec):
        return "names an archive file: depend on a registry release (name==version)"
    match = _REQUIREMENT.match(spec)
    if match is None:
        return "is not a requirement of the form name[extras]<specifiers>"
    if "+" in match.group("rest"):
        return "pins a local version label (+...), which no registry serves: pin the public version"
    return None


def pin_problem(line: str) -> str | None:
    """Why a constraints line is not ``name==version``, or None if it is."""
    problem = requirement_problem(line)
    if problem is not None:
        return problem
    if _PIN.match(line.strip()) is None:
        return "constraints hold exact pins only: name==version"
    return None


def _option_problem(line: str) -> str | None:
    first = line.split()[0]
    option = first.split("=", 1)[0]
    if option in _FILE_OPTIONS:
        return f"pip option {option} points pip at files or another index: that is a machine's setting"
    return None


def _content_lines(path: Path) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            yield number, line


def scan_constraints(path: Path) -> list[Finding]:
    findings = []
    for number, line in _content_lines(path):
        problem = _option_problem(line) if line.startswith("-") else pin_problem(line)
        if problem is not None:
            findings.append(Finding(path, number, line, problem))
    return findings


def scan_requirements(path: Path) -> list[Finding]:
    findings = []
    for number, line in _content_lines(path):
        if line.startswith("-"):
            option = line.split()[0].split("=", 1)[0]
            # -r / -c include another file of the repository: checked on its own.
            includes = option in ("-r", "--requirement", "-c", "--constraint")
            problem = None if includes else _option_problem(line)
        else:
            problem = requirement_problem(line)
        if problem is not None:
            findings.append(Finding(path, number, line, problem))
    return findings


def _pyproject_requirements(data: dict[str, object]) -> Iterator[str]:
    def strings(value: object) -> Iterator[str]:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    yield item
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)

    build = data.get("build-system")
    if isinstance(build, dict):
        yield from strings(build.get("requires"))
    project = data.get("project")
    if isinstance(project, dict):
        yield from strings(project.get("dependencies"))
        yield from strings(project.get("optional-dependencies"))
    yield from strings(data.get("dependency-groups"))


def scan_pyproject(path: Path) -> list[Finding]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    findings = []
    for requirement in _pyproject_requirements(tomllib.loads(text)):
        problem = requirement_problem(requirement)
        if problem is None:
            continue
        number = next((i for i, line in enumerate(lines, start=1) if requirement in line), 0)
        findings.append(Finding(path, number, requirement, problem))
    return findings


def dependency_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if any(part in SKIP_DIRS for part in path.relative_to(root).parts[:-1]) or not path.is_file():
            continue
        name = path.name.lower()
        if name == "pyproject.toml" or (
            name.endswith(".txt") and (name.startswith("requirements") or name.startswith("constraints"))
        ):
            yield path


def scan(root: Path = ROOT) -> list[Finding]:
    findings: list[Finding] = []
    for path in dependency_files(root):
        name = path.name.lower()
        if name == "pyproject.toml":
            findings += scan_pyproject(path)
        elif name.startswith("constraints"):
            findings += scan_constraints(path)
        else:
            findings += scan_requirements(path)
    return findings


def _is_pin_line(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _key(line: str) -> str:
    return re.split(r"[=<>!~ ;\[]", line.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def freeze(current: str, frozen: Iterable[str]) -> tuple[str, list[str]]:
    """The new constraints text: ``current`` (header, comments and order kept) with each pin replaced
    by the version installed now, pins of packages installed now but not listed appended before the
    first comment section, and pins of packages not installed here (another extra) kept as they are.

    Raises ValueError naming every installed package that cannot be pinned to a registry release."""
    installed: dict[str, str] = {}
    refused: list[str] = []
    for raw in frozen:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # A local build of a public release (torch 2.13.0+cpu) is pinned as the public version.
        pin = re.sub(r"^(\S+==[^+\s;]+)\+\S+", r"\1", line)
        problem = pin_problem(pin)
        if problem is not None:
            refused.append(f"{line}: {problem}")
            continue
        installed[_key(pin)] = pin
    if refused:
        raise ValueError(
            "refusing to write constraints: reinstall these from the registry first "
            "(pip install --force-reinstall name==version):\n  " + "\n  ".join(refused)
        )
    listed = {_key(line) for line in current.splitlines() if _is_pin_line(line)}
    new = [pin for key, pin in sorted(installed.items()) if key not in listed]
    out: list[str] = []
    changes = [f"added {pin}" for pin in new]
    pinned = False
    for line in current.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and pinned and new:
            # The first comment after the pins opens another extra's section: new pins go before it.
            out += new
            new = []
        key = _key(stripped)
        pinned = pinned or _is_pin_line(line)
        if _is_pin_line(line) and key in installed and installed[key] != stripped:
            changes.append(f"{stripped} -> {installed[key]}")
            out.append(installed[key])
        else:
            out.append(line)
    out += new
    return "\n".join(out) + "\n", changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository to check (default: this one)")
    parser.add_argument(
        "--freeze",
        type=Path,
        metavar="FILE",
        help="regenerate FILE from `pip freeze --exclude-editable` output on stdin",
    )
    args = parser.parse_args(argv)
    if args.freeze is not None:
        path: Path = args.freeze
        try:
            text, changes = freeze(path.read_text(encoding="utf-8"), sys.stdin)
        except ValueError as exc:
            print(f"depguard: {exc}", file=sys.stderr)
            return 1
        path.write_text(text, encoding="utf-8")
        for change in changes:
            print(f"depguard: {change}", file=sys.stderr)
        print(f"depguard: wrote {path} ({len(changes)} change(s))", file=sys.stderr)
    findings = scan(args.root)
    for finding in findings:
        print(f"depguard: {finding}", file=sys.stderr)
    if findings:
        print(
            "depguard: a dependency file names a local file, a path or a direct URL; a fresh machine "
            "cannot install it. Pin the registry release instead (name==version).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
