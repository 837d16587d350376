"""A real browser's SDP offer, the base the offer fuzz mutates.

Made by headless Chromium 156 (Debian's ``chromium``, driven by playwright) on this project's build
machine: ``new RTCPeerConnection()``, ``addTransceiver("audio", {direction: "sendrecv"})``,
``createDataChannel("events")``, ``createOffer()`` / ``setLocalDescription()``, then
``localDescription.sdp`` once ICE gathering completed. That is the shape of what the candidate page
sends (audio plus the ``events`` data channel), mDNS host candidates included. Nothing was edited.
"""

from __future__ import annotations

CHROMIUM_OFFER_LINES = (
    "v=0",
    "o=- 2523161206902282422 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=candidate:79074890 1 udp 2113937151 98f50f04-cc20-432f-980c-683faf0a317a.local 45990 typ host generation 0 network-cost 999",  # noqa: E501
    "a=candidate:3486537642 1 udp 2113942271 00763372-eb17-462c-a974-42f4266d558a.local 50897 typ host generation 0 network-cost 999",  # noqa: E501
    "a=ice-ufrag:55bw",
    "a=ice-pwd:1ErkHYEcF5+Uoz5DnOEKSQNx",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 61:42:84:EA:F8:D7:3B:9E:19:4B:80:C6:60:D3:71:57:AF:CD:C8:00:02:9A:39:1D:72:44:71:BD:C5:F8:96:79",  # noqa: E501
    "a=setup:actpass",
    "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=sendrecv",
    "a=msid:- 04e9ce3e-18ed-4327-95c6-09499bff08a7",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtcp-xr:rcvr-rtt=all",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:110 telephone-event/48000",
    "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:587057560 cname:xIhM2hBFA+j6BWUQ",
    "a=ssrc:587057560 msid:- 04e9ce3e-18ed-4327-95c6-09499bff08a7",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=candidate:79074890 1 udp 2113937151 98f50f04-cc20-432f-980c-683faf0a317a.local 38244 typ host generation 0 network-cost 999",  # noqa: E501
    "a=candidate:3486537642 1 udp 2113942271 00763372-eb17-462c-a974-42f4266d558a.local 35292 typ host generation 0 network-cost 999",  # noqa: E501
    "a=ice-ufrag:55bw",
    "a=ice-pwd:1ErkHYEcF5+Uoz5DnOEKSQNx",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 61:42:84:EA:F8:D7:3B:9E:19:4B:80:C6:60:D3:71:57:AF:CD:C8:00:02:9A:39:1D:72:44:71:BD:C5:F8:96:79",  # noqa: E501
    "a=setup:actpass",
    "a=mid:1",
    "a=sctp-port:5000",
    "a=max-message-size:262144",
)
CHROMIUM_OFFER = "\r\n".join(CHROMIUM_OFFER_LINES) + "\r\n"
