"""Audio plumbing between WebRTC tracks and the agent (lands with the live-call issue).

Imports nothing of ours.
"""
