"""Frame plumbing without a network: re-chunking, per-stream resampling, recording, files, ICE text."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import aioice.ice
import av
import numpy as np
import pytest
import soundfile as sf

from media.files import load_audio
from media.frames import Int16Array, PcmFrame, Rechunker, StreamResampler, as_int16_mono
from media.ice import enable_loopback_candidates, rtc_configuration, strip_mdns_candidates
from media.recording import CallRecording, TimelineRecorder, WavRecorder, parse_reference


def _tone(seconds: float, rate: int, freq: float = 440.0, amplitude: int = 8000) -> Int16Array:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def _opus_like_frames(seconds: float) -> list[av.AudioFrame]:
    """What aiortc's Opus decoder hands out: 20 ms of 48 kHz packed stereo, shape (1, 1920)."""
    mono = _tone(seconds, 48_000)
    frames = []
    for n, start in enumerate(range(0, len(mono), 960)):
        stereo = np.repeat(mono[start : start + 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = 48_000
        frame.pts = n * 960
        frame.time_base = Fraction(1, 48_000)
        frames.append(frame)
    return frames


# ---- Rechunker ---------------------------------------------------------------------------------


def test_rechunker_emits_exact_frames_and_pads_only_the_tail() -> None:
    rng = np.random.default_rng(7)
    source = rng.integers(-32768, 32767, size=10_007, dtype=np.int16)
    chunker = Rechunker(320)
    frames: list[Int16Array] = []
    pos = 0
    while pos < len(source):
        size = int(rng.integers(1, 2000))
        frames += chunker.push(source[pos : pos + size])
        pos += size
    assert all(len(f) == 320 and f.dtype == np.int16 for f in frames)
    assert chunker.pending == len(source) % 320
    tail = chunker.flush()
    assert tail is not None
    assert len(tail) == 320
    joined = np.concatenate([*frames, tail])
    np.testing.assert_array_equal(joined[: len(source)], source)
    assert not joined[len(source) :].any()
    assert chunker.flush() is None


def test_rechunker_frames_do_not_alias_the_input() -> None:
    buf = np.ones(640, dtype=np.int16)
    frames = Rechunker(320).push(buf)
    buf[:] = 0
    assert all(f.all() for f in frames)


# ---- StreamResampler ---------------------------------------------------------------------------


def test_one_resampler_per_stream_keeps_every_sample() -> None:
    frames = _opus_like_frames(10.0)
    resampler = StreamResampler(16_000)
    outputs = [resampler.resample(f) for f in frames]
    assert len(outputs[0]) == 304  # the filter's delay: why inbound audio is re-chunked
    total = sum(len(o) for o in outputs) + len(resampler.flush())
    assert abs(total - 160_000) <= 1_600


def test_a_resampler_per_frame_loses_audio() -> None:
    """The bug the stream resampler exists to avoid, kept here so the test above means something."""
    total = 0
    for frame in _opus_like_frames(10.0):
        per_frame = av.AudioResampler(format="s16", layout="mono", rate=16_000)
        total += sum(o.samples for o in per_frame.resample(frame))
    assert total < 160_000 * 0.99


def test_resample_array_keeps_the_signal() -> None:
    resampler = StreamResampler(48_000)
    source = _tone(1.0, 22_050, freq=300)
    out = np.concatenate(
        [resampler.resample_array(source[i : i + 1000], 22_050) for i in range(0, len(source), 1000)]
        + [resampler.flush()]
    )
    assert abs(len(out) - 48_000) <= 48
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 48_000 / len(out) - 300) < 2
    with pytest.raises(ValueError, match="22050 Hz"):
        resampler.resample_array(source[:100], 16_000)


def test_resample_array_mixes_interleaved_stereo_to_mono() -> None:
    mono = _tone(0.5, 48_000)
    resampler = StreamResampler(48_000)
    stereo = np.repeat(mono, 2)
    out = np.concatenate([resampler.resample_array(stereo, 48_000, channels=2), resampler.flush()])
    np.testing.assert_allclose(out.astype(np.int32), mono.astype(np.int32), atol=1)


def test_as_int16_mono_averages_channels() -> None:
    stereo = np.array([[100, 300], [-100, -300]], dtype=np.int16)
    np.testing.assert_array_equal(as_int16_mono(stereo, channels=2), np.array([200, -200], dtype=np.int16))
    with pytest.raises(TypeError):
        as_int16_mono(np.zeros(4, dtype=np.float32))


def test_pcm_frame_reports_its_duration() -> None:
    frame = PcmFrame(np.zeros(320, dtype=np.int16), 16_000, 1.0)
    assert frame.duration == pytest.approx(0.02)


# ---- recording ---------------------------------------------------------------------------------


def test_wav_recorder_writes_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "side.wav"
    recorder = WavRecorder(path, 16_000)
    for _ in range(150):
        recorder.write(np.full(320, 1000, dtype=np.int16), 16_000, 0.0)
    recorder.close()
    recorder.close()
    recorder.write(np.ones(320, dtype=np.int16), 16_000, 0.0)  # after close: ignored, no error
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    assert info.frames == 150 * 320
    data, _ = sf.read(str(path), dtype="int16")
    assert (data == 1000).all()


def test_wav_recorder_resamples_other_rates(tmp_path: Path) -> None:
    path = tmp_path / "agent.wav"
    recorder = WavRecorder(path, 16_000)
    for _ in range(100):
        recorder.write(np.zeros(960, dtype=np.int16), 48_000, 0.0)
    recorder.close()
    assert abs(sf.info(str(path)).frames - 32_000) <= 32


def test_timeline_recorder_fills_gaps_and_absorbs_bursts(tmp_path: Path) -> None:
    path = tmp_path / "timeline.wav"
    recorder = TimelineRecorder(path, 16_000, origin=100.0)
    speech = np.full(320, 500, dtype=np.int16)
    # A burst: four frames released at once half a second into the call ...
    for _ in range(4):
        recorder.write(speech, 16_000, 100.5)
    # ... then one more on time, then a second of nothing, then one frame.
    recorder.write(speech, 16_000, 100.58)
    recorder.write(speech, 16_000, 101.6)
    recorder.pad_to(102.0)
    recorder.close()
    data, rate = sf.read(str(path), dtype="int16")
    assert rate == 16_000
    assert len(data) == 32_000
    voiced = np.flatnonzero(data)
    assert voiced[0] == 8_000  # 0.5 s
    assert not data[8_000 + 5 * 320 : 25_600].any()
    assert data[25_600 : 25_600 + 320].all()  # 1.6 s, exactly where it happened


# ---- files -------------------------------------------------------------------------------------


def test_load_audio_decodes_and_resamples(tmp_path: Path) -> None:
    path = tmp_path / "clip.flac"
    sf.write(str(path), np.stack([_tone(2.0, 44_100)] * 2, axis=1), 44_100, subtype="PCM_16")
    audio = load_audio(path, 16_000)
    assert audio.dtype == np.int16
    assert audio.ndim == 1
    assert abs(len(audio) - 32_000) <= 32
    assert np.abs(audio).max() > 7000


# ---- ICE helpers -------------------------------------------------------------------------------

SDP = (
    "v=0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "a=candidate:1 1 udp 2122260223 5f1b7c2a-4b1e-4f0e-9a7c-0d2b9a1e7e11.local 54321 typ host\r\n"
    "a=candidate:2 1 udp 2122260223 127.0.0.1 54322 typ host generation 0\r\n"
    "a=candidate:3 1 UDP 1686052607 203.0.113.5 61000 typ srflx raddr 0.0.0.0 rport 0\r\n"
    "a=candidate:4 1 udp 2122260223 ABCDEF.LOCAL 54323 typ host\r\n"
    "a=end-of-candidates\r\n"
)


def test_strip_mdns_candidates_keeps_everything_else() -> None:
    out = strip_mdns_candidates(SDP)
    assert ".local" not in out.lower()
    assert out.count("a=candidate:") == 2
    assert out.endswith("a=end-of-candidates\r\n")
    assert out.count("\r\n") == SDP.count("\r\n") - 2
    assert strip_mdns_candidates(out) == out


def test_rtc_configuration_is_always_explicit() -> None:
    assert rtc_configuration().iceServers == []
    assert rtc_configuration([]).iceServers == []
    config = rtc_configuration([{"urls": ["turn:turn.example:3478"], "username": "u", "credential": "p"}])
    assert config.iceServers is not None
    (server,) = config.iceServers
    assert (server.urls, server.username, server.credential) == (["turn:turn.example:3478"], "u", "p")
    with pytest.raises(ValueError, match="urls"):
        rtc_configuration([{"username": "u"}])


def test_enable_loopback_candidates_adds_127_once() -> None:
    enable_loopback_candidates()
    patched = aioice.ice.get_host_addresses
    enable_loopback_candidates()
    assert aioice.ice.get_host_addresses is patched
    addresses = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    assert addresses.count("127.0.0.1") == 1
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=False, use_ipv6=True)


def test_call_recording_references_stay_inside_the_data_dir(tmp_path: Path) -> None:
    recording = CallRecording(tmp_path, "recordings/abc")
    ref = recording.reference("candidate", 1.234, 5.0)
    path, start, end = parse_reference(ref)
    assert (tmp_path / path).parent == tmp_path / "recordings/abc"
    assert (start, end) == (1.23, 5.0)
    assert parse_reference(recording.reference("interviewer", None, 3.0))[1:] == (None, None)
    recording.close()
    assert sf.info(tmp_path / path).frames > 0  # padded to the close, both sides the same length
    assert sf.info(tmp_path / path).frames == sf.info(tmp_path / recording.files["interviewer"]).frames
    for bad in ("../etc/passwd.wav", "/abs/x.wav", "a.wav#t=1", "x.mp3", "a/../../b.wav"):
        with pytest.raises(ValueError, match="not a recording reference"):
            parse_reference(bad)
    with pytest.raises(ValueError, match="inside the data dir"):
        CallRecording(tmp_path, "../outside")
