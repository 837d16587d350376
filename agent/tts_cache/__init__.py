"""The TTS cache: each distinct utterance synthesized once, across processes (Redis NX single-flight
with a watchdog, compare-and-delete release and pub/sub completion), in process when Redis is down."""

from agent.tts_cache.cache import CacheOptions, Observer, SharedSpeechCache, Synthesize
from agent.tts_cache.keys import CachedSpeech, VoiceSpec, normalize_text, utterance_key, voice_spec
from agent.tts_cache.memory import MemorySpeechCache, SpeechCache

__all__ = [
    "CacheOptions",
    "CachedSpeech",
    "MemorySpeechCache",
    "Observer",
    "SharedSpeechCache",
    "SpeechCache",
    "Synthesize",
    "VoiceSpec",
    "normalize_text",
    "utterance_key",
    "voice_spec",
]
