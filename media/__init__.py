"""Audio plumbing between WebRTC tracks and the agent.

``inbound`` (candidate's track -> 20 ms 16 kHz frames), ``outbound`` (paced 48 kHz track fed by
segments, cleared on barge-in), ``files`` (recorded answers for testers), ``recording`` (WAV of each
side), ``ice`` (offline ICE settings), with ``frames`` and ``pacing`` underneath. Imports nothing of
ours; submodules are imported explicitly so that ``media.frames`` does not pull in aiortc.
"""
