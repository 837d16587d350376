"""The interviewer: resume understanding, interview plans, and the speech models behind small interfaces.

Knows nothing of aiortc, HTTP or evaluation; ``signaling`` wires it to the rest.
"""
