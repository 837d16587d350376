from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from agent.errors import InvalidSessionDescriptionError, TokenError
from signaling.sdp import validate_offer
from signaling.tokens import TokenSigner, load_or_create_secret

SECRET = b"0123456789abcdef0123456789abcdef"


def test_token_round_trip_and_scope() -> None:
    signer = TokenSigner(SECRET)
    iid = uuid.uuid4()
    token = signer.issue(iid)
    assert signer.verify(token, interview_id=iid).interview_id == iid
    with pytest.raises(TokenError, match="not valid for this interview"):
        signer.verify(token, interview_id=uuid.uuid4())
    with pytest.raises(TokenError, match="not valid"):
        signer.verify(token, interview_id=iid, scope="dashboard")


@pytest.mark.parametrize("bad", [None, "", "abc", "abc.def", "a.b.c"])
def test_malformed_tokens(bad: str | None) -> None:
    with pytest.raises(TokenError):
        TokenSigner(SECRET).verify(bad, interview_id=uuid.uuid4())


def test_forged_and_expired_tokens() -> None:
    iid = uuid.uuid4()
    other = TokenSigner(b"x" * 32).issue(iid)
    with pytest.raises(TokenError, match="invalid token"):
        TokenSigner(SECRET).verify(other, interview_id=iid)
    expired = TokenSigner(SECRET).issue(iid, ttl_s=-1)
    with pytest.raises(TokenError, match="expired"):
        TokenSigner(SECRET).verify(expired, interview_id=iid)
    body, sig = TokenSigner(SECRET).issue(iid).split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    with pytest.raises(TokenError):
        TokenSigner(SECRET).verify(tampered, interview_id=iid)


def test_secret_created_once_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    first = load_or_create_secret(path)
    assert load_or_create_secret(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) == 32


@pytest.mark.parametrize(
    ("sdp", "kind", "reason"),
    [
        ("v=0\r\n", "answer", "expected an SDP offer"),
        ("hello", "offer", "must start"),
        ("v=0\r\n" + "a=x\r\n" * 20000, "offer", "larger than"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "offer", "no audio"),
        ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n", "offer", "Opus"),
        ("v=0\x00\r\n", "offer", "NUL"),
    ],
)
def test_bad_offers_rejected_with_reason(sdp: str, kind: str, reason: str) -> None:
    with pytest.raises(InvalidSessionDescriptionError, match=reason):
        validate_offer(sdp, kind)


def test_a_real_browser_offer_passes_and_opus_must_be_48k_stereo() -> None:
    from tests.sdp_samples import CHROMIUM_OFFER

    parsed = validate_offer(CHROMIUM_OFFER, "offer")
    assert [m.kind for m in parsed.media] == ["audio", "application"]
    # RFC 7587: opus is always opus/48000/2; aiortc would not negotiate "opus/16000" as Opus at all
    # and fall back to G.722 without a word.
    for wrong in ("opus/16000", "opus/48000/1", "opus/8000/2"):
        with pytest.raises(InvalidSessionDescriptionError, match="Opus"):
            validate_offer(CHROMIUM_OFFER.replace("opus/48000/2", wrong), "offer")


def test_answer_codec_check() -> None:
    from signaling.sdp import answer_uses_opus
    from tests.sdp_samples import CHROMIUM_OFFER

    assert answer_uses_opus(CHROMIUM_OFFER)  # opus first in the audio section
    without_opus = "".join(
        line
        for line in CHROMIUM_OFFER.splitlines(keepends=True)
        if not line.startswith(
            ("a=rtpmap:111 ", "a=fmtp:111 ", "a=rtcp-fb:111 ", "a=rtpmap:63 ", "a=fmtp:63 ")
        )
    ).replace("SAVPF 111 63 9", "SAVPF 9")
    assert not answer_uses_opus(without_opus)
