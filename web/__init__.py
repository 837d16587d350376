"""Static pages served by ``signaling``."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
