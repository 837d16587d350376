"""The live interview: a livekit-agents ``AgentSession`` run offline over our own audio I/O.

Import the pieces from their modules; this package's ``__init__`` stays empty of imports so that
``agent.session.state`` can be used (by the app's state store) without loading livekit.
"""
