"""Making small video clips with PyAV for the tests, and reading back what a clip holds."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from conftest import smooth_photo

FPS = 25


def write_clip(
    path: Path,
    width: int = 64,
    height: int = 48,
    frames: int = 20,
    codec: str = "libx264",
    audio: tuple[str, ...] = (),
    rotation: int | None = None,
    pts: list[int] | None = None,
    options: dict | None = None,
    muxer: str | None = None,
    audio_seconds: float | None = None,
    pixel_aspect: Fraction | None = None,
) -> Path:
    """A small clip of a smooth photo drifting sideways, at FPS (or at `pts` in 1/FPS units), with a tone on
    each audio codec given, as long as the video unless `audio_seconds` says otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=muxer, options=options or {}) as container:
        video = container.add_stream(codec, rate=FPS)
        video.width, video.height = width, height
        video.pix_fmt = "rgb24" if codec == "png" else "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        if pixel_aspect is not None:
            video.codec_context.sample_aspect_ratio = pixel_aspect
        if rotation is not None:
            video.set_display_rotation(rotation)
        # "strict": ffmpeg's own Vorbis encoder is marked experimental.
        tracks = [
            container.add_stream(name, rate=48000, layout="stereo", options={"strict": "experimental"})
            for name in audio
        ]
        photo = smooth_photo(height, width + frames)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[:, i : i + width]), format="rgb24")
            frame.pts = i if pts is None else pts[i]
            container.mux(video.encode(frame))
        container.mux(video.encode())
        for track in tracks:
            write_tone(container, track, seconds=audio_seconds or frames / FPS)
    return path


def write_tone(container: av.container.OutputContainer, track: av.audio.stream.AudioStream, seconds: float) -> None:
    size = track.codec_context.frame_size or 1024
    samples = np.sin(np.arange(round(seconds * 48000)) * 2 * np.pi * 440 / 48000).astype(np.float32)
    for start in range(0, len(samples) - size + 1, size):
        stereo = np.repeat(samples[start : start + size], 2)[None]  # (1, 2 * size): left, right, left, ...
        frame = av.AudioFrame.from_ndarray(stereo, format="flt", layout="stereo")
        frame.sample_rate, frame.pts = 48000, start
        container.mux(track.encode(frame))
    container.mux(track.encode())


def decoded(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return [frame for frame in container.decode(video=0)]


def rgb(frames: list[av.VideoFrame]) -> np.ndarray:
    """(T, H, W, 3) int16, converted with exact rounding (swscale's default is half a level dark)."""
    exact = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    return np.stack([frame.to_ndarray(format="rgb24", interpolation=exact) for frame in frames]).astype(np.int16)


def luma(frames: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> BT.601 luma, which a YUV round trip keeps whatever it does to the chroma."""
    return frames @ np.array([0.299, 0.587, 0.114])


def audio_packets(path: Path) -> list[list[tuple[int, int, bytes]]]:
    """Every audio stream's packets as (time, duration, bytes), times in seconds (the containers' time bases differ)."""
    with av.open(str(path)) as container:
        streams = list(container.streams.audio)
        return [
            [(p.pts * p.time_base, p.duration * p.time_base, bytes(p)) for p in container.demux(s) if p.size]
            for s in streams
        ]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def truncated(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def write_bytes(path: Path, size: int) -> Path:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        write_tone(container, container.add_stream("aac", rate=48000, layout="stereo"), seconds=0.2)
    return path
