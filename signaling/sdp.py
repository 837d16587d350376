"""Checks on a client's SDP offer before aiortc sees it: hostile or broken input gets a 400 with a
reason, never a 500 from deep inside the WebRTC stack."""

from __future__ import annotations

from aiortc import RTCRtpCodecParameters
from aiortc.sdp import SessionDescription

from agent.errors import InvalidSessionDescriptionError

MAX_SDP_BYTES = 64 * 1024
MAX_MEDIA_SECTIONS = 8


def is_opus(codec: RTCRtpCodecParameters) -> bool:
    """Opus as RFC 7587 writes it: clock rate 48000 and 2 channels whatever is sent. aiortc matches
    codecs on the clock rate, so an ``opus/16000`` line would not negotiate Opus at all and the call
    would silently fall back to G.722 or G.711."""
    return codec.name.lower() == "opus" and codec.clockRate == 48000 and codec.channels in (None, 2)


def answer_uses_opus(answer_sdp: str) -> bool:
    """Whether every audio section of the negotiated answer keeps Opus (aiortc, which prefers it,
    then sends and receives it)."""
    parsed = SessionDescription.parse(answer_sdp)
    audio = [m for m in parsed.media if m.kind == "audio"]
    return bool(audio) and all(any(is_opus(c) for c in m.rtp.codecs) for m in audio)


def validate_offer(sdp: str, kind: str) -> SessionDescription:
    if kind != "offer":
        raise InvalidSessionDescriptionError(f"expected an SDP offer, got type {kind!r}")
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise InvalidSessionDescriptionError(f"SDP larger than {MAX_SDP_BYTES // 1024} KiB")
    if not sdp.startswith("v=0"):
        raise InvalidSessionDescriptionError("SDP must start with 'v=0'")
    if "\x00" in sdp:
        raise InvalidSessionDescriptionError("SDP contains NUL bytes")
    try:
        parsed = SessionDescription.parse(sdp)
    # aiortc's parser assumes well-formed lines; each of these means a malformed one.
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError) as exc:
        raise InvalidSessionDescriptionError(f"unparseable SDP: {exc}") from exc
    if len(parsed.media) > MAX_MEDIA_SECTIONS:
        raise InvalidSessionDescriptionError(f"more than {MAX_MEDIA_SECTIONS} media sections")
    audio = [m for m in parsed.media if m.kind == "audio"]
    if not audio:
        raise InvalidSessionDescriptionError("the offer has no audio section")
    if not any(is_opus(codec) for m in audio for codec in m.rtp.codecs):
        raise InvalidSessionDescriptionError(
            "the offer's audio does not include the Opus codec (opus/48000/2, RFC 7587)"
        )
    for m in audio:
        ice = m.ice
        if ice is None or ice.usernameFragment is None or ice.password is None or m.dtls is None:
            raise InvalidSessionDescriptionError("the offer lacks ICE credentials or a DTLS fingerprint")
    return parsed
