"""ICE settings that make calls work without the internet: explicit servers, loopback, no mDNS.

- aiortc falls back to a public Google STUN server when ``iceServers`` is None; it cannot be
  reached here and gathering would wait for it, so the configuration always names its servers.
- aioice 0.13 leaves 127.0.0.1 out of host candidates (``aioice.ice.get_host_addresses``), so two
  peers on one machine without another interface, or a browser in a network namespace that only
  has loopback, never connect. ``enable_loopback_candidates`` puts it back.
- Browsers hide their address behind ``<uuid>.local`` candidates that aioice resolves by multicast
  DNS, which fails here and only delays the call; ``strip_mdns_candidates`` drops them from an SDP.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

_LOOPBACK_V4 = "127.0.0.1"
_PATCH_MARK = "_media_allows_loopback"

_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (?P<address>\S+) \d+ typ ", re.IGNORECASE)

HostAddresses = Callable[[bool, bool], list[str]]

log = logging.getLogger(__name__)


def enable_loopback_candidates() -> None:
    """Make aioice gather a 127.0.0.1 host candidate as well. Idempotent, process-wide.

    Only the address list is wrapped (``gather_candidates`` looks the function up in its module at
    call time): binding, candidate priorities and pairing stay aioice's own. IPv6 ``::1`` is left
    out; nothing here needs it. Candidates on other interfaces are kept, so calls from other hosts
    work as before; the loopback candidate simply fails its checks for them.
    """
    current: Any = aioice.ice.get_host_addresses
    if getattr(current, _PATCH_MARK, False):
        return
    original: HostAddresses = current

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = original(use_ipv4, use_ipv6)
        if use_ipv4 and _LOOPBACK_V4 not in addresses:
            addresses.append(_LOOPBACK_V4)
        return addresses

    setattr(get_host_addresses, _PATCH_MARK, True)
    aioice.ice.get_host_addresses = get_host_addresses


def strip_mdns_candidates(sdp: str) -> str:
    """``sdp`` without the ``a=candidate`` lines whose address is an mDNS ``.local`` name."""
    lines = sdp.splitlines(keepends=True)
    kept = []
    for line in lines:
        match = _CANDIDATE.match(line)
        if match and match.group("address").lower().rstrip(".").endswith(".local"):
            continue
        kept.append(line)
    return "".join(kept)


def rtc_configuration(ice_servers: Sequence[Mapping[str, str | list[str]]] = ()) -> RTCConfiguration:
    """An ``RTCConfiguration`` with exactly these ICE servers (none by default: host candidates).

    Each server is ``{"urls": str | [str], "username": str, "credential": str}`` as in the browser's
    ``RTCIceServer``; username and credential only matter for TURN.
    """
    servers = []
    for spec in ice_servers:
        urls = spec.get("urls")
        if not urls:
            raise ValueError(f"ICE server without urls: {dict(spec)!r}")
        username = spec.get("username")
        credential = spec.get("credential")
        if isinstance(username, list) or isinstance(credential, list):
            raise ValueError("ICE server username and credential must be strings")
        servers.append(RTCIceServer(urls=urls, username=username, credential=credential))
    return RTCConfiguration(iceServers=servers)


async def close_peer_connection(pc: RTCPeerConnection, what: str) -> None:
    """Close a peer connection, all of it. aiortc's ``close()`` stops at the first step that fails
    (on a connection whose negotiation failed half-way: a data channel transport never made, an ICE
    transport already closed), leaving the ICE sockets and DTLS tasks after it open: stop those one
    by one. ``what`` names the connection in the log (a call's, a listener's)."""
    try:
        await pc.close()
        return
    except Exception:
        log.warning("%s: closing its connection failed; stopping each part", what, exc_info=True)
    parts: list[Any] = []
    for transceiver in pc.getTransceivers():
        with contextlib.suppress(Exception):
            await transceiver.stop()
        parts.append(transceiver.receiver.transport)
    parts.append(getattr(pc.sctp, "transport", None))
    for dtls in parts:  # each DTLS transport, then the ICE transport under it
        for part in (dtls, getattr(dtls, "transport", None)):
            if part is not None:
                with contextlib.suppress(Exception):
                    await part.stop()
