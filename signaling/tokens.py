"""Short-lived, scoped join tokens: HMAC-SHA256 over (interview id, scope, expiry).

The predecessor handed a vendor API key to the browser; here a client only ever holds a token that
opens one interview, for one purpose, for a limited time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import TokenError


@dataclass(frozen=True, slots=True)
class TokenClaims:
    interview_id: uuid.UUID
    scope: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SealedValues:
    """``base64(json).base64(hmac)`` values that expire: join tokens and interviewer sessions. Each
    user gets its own key (derived from the service secret with a label), so a value sealed for one
    purpose never opens as another."""

    def __init__(self, secret: bytes, *, label: bytes | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must be at least 16 bytes")
        self._key = secret if label is None else hmac.new(secret, label, hashlib.sha256).digest()

    def seal(self, payload: dict[str, Any], *, ttl_s: float) -> str:
        # Wall-clock expiry is fine here: issuer and verifier are the same API tier, and the TTLs
        # are long against any drift that matters.
        body = _b64(json.dumps({**payload, "e": int(time.time() + ttl_s)}, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def open(self, value: str | None, *, what: str, missing: str, expired: str) -> dict[str, Any]:
        """The payload (with ``e``, its expiry); TokenError naming ``what`` when it is absent,
        forged, malformed or expired."""
        if not value:
            raise TokenError(missing)
        try:
            body, signature = value.split(".", 1)
            if not hmac.compare_digest(signature, self._sign(body)):
                raise TokenError(f"invalid {what}")
            payload = json.loads(_unb64(body))
            if not isinstance(payload, dict):
                raise TypeError("not an object")
            expires_at = float(payload["e"])
        except TokenError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(f"malformed {what}") from exc
        if expires_at < time.time():
            raise TokenError(expired)
        return payload

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        self._sealed = SealedValues(secret)

    def issue(self, interview_id: uuid.UUID, *, scope: str = "join", ttl_s: float = 3600) -> str:
        return self._sealed.seal({"i": str(interview_id), "s": scope}, ttl_s=ttl_s)

    def verify(self, token: str | None, *, interview_id: uuid.UUID, scope: str = "join") -> TokenClaims:
        payload = self._sealed.open(
            token, what="token", missing="a join token is required", expired="token expired"
        )
        try:
            claims = TokenClaims(uuid.UUID(payload["i"]), str(payload["s"]), float(payload["e"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TokenError("malformed token") from exc
        if claims.interview_id != interview_id or claims.scope != scope:
            raise TokenError("token is not valid for this interview")
        return claims


def load_or_create_secret(path: Path) -> bytes:
    """The signing secret, created once (0600) in the data dir when not configured."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of ours created it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex())
    return secret
