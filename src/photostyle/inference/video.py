"""Video clips through a frame function: decoded and encoded with PyAV (ffmpeg's libraries), one frame at a time.

The clip never sits in memory: frames are decoded, stylized, encoded as H.264 and written as they
come, and the audio packets are copied into the new file untouched.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation
from tqdm import tqdm

from photostyle.errors import PhotostyleError, first_line, permission_denied
from photostyle.files import atomic_write
from photostyle.settings import VIDEO_CRF

# swscale's fast 4:2:0 -> RGB path rounds down, leaving decoded frames half a level dark on
# average; with these flags the conversion is exact (about 9 ms more a 1080p frame on one core).
EXACT_TO_RGB = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT

# One frame (H, W, 3) uint8 RGB -> its stylized version, the same. Called on a clip's frames in
# order, so it may carry state from one frame to the next; each clip gets a fresh one.
FrameFunction = Callable[[np.ndarray], np.ndarray]

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")
# The containers written, by output suffix. WebM holds only VP8/VP9/AV1 and AVI has no place for
# H.264's reordered timestamps, so clips of those kinds are written as Matroska (.mkv), which holds
# H.264 beside any audio codec they carry.
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
DEFAULT_PRESET = "medium"  # x264's own default
# ffmpeg's colour matrix codes (AVColorSpace) that the encoder's tags may need.
RGB, BT709 = 0, 1


@dataclass
class VideoResult:
    frames: int  # frames written
    warning: str | None  # what was wrong with the input, when the output still holds what could be read


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def video_output_suffix(path: Path) -> str:
    """The suffix the stylized version of clip `path` gets: its own where H.264 fits, else .mkv."""
    return path.suffix if path.suffix.lower() in MUXERS else ".mkv"


def _open_clip(source: Path) -> av.container.InputContainer:
    if not source.is_file():
        raise PhotostyleError(f"{source}: no such file; check the path")
    try:
        return av.open(str(source))
    except PermissionError:
        raise permission_denied(source) from None
    except av.FFmpegError as error:
        raise PhotostyleError(
            f"{source} is not a video ffmpeg can read, or it is truncated or corrupt ({first_line(error)});"
            " re-export the original"
        ) from None


def _video_stream(clip: av.container.InputContainer, source: Path) -> av.video.stream.VideoStream:
    """The clip's main picture stream (not a cover image)."""
    for stream in clip.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    kinds = sorted({stream.type for stream in clip.streams})
    if not kinds:  # an MP4 cut before its index (moov at the end) opens with no streams at all
        raise PhotostyleError(f"{source} holds no streams: it is truncated or corrupt; re-export the original")
    raise PhotostyleError(f"{source} has no video stream (only {', '.join(kinds)}); give a video clip")


def _first_frame(source: Path, index: int) -> av.VideoFrame:
    """Decode the first frame of stream `index`; its side data carries the rotation to write before encoding."""
    reason = "the file ends first"
    with _open_clip(source) as clip:
        try:
            for frame in clip.decode(clip.streams[index]):
                return frame
        except av.FFmpegError as error:
            reason = first_line(error)
    raise PhotostyleError(f"{source} is truncated or corrupt: no frame decodes ({reason}); re-export the original")


def _display_matrix(frame: av.VideoFrame) -> list[int] | None:
    """The rotation/flip matrix that players apply to the frame, as nine int32 (ffmpeg's layout), or None."""
    matrix = frame.side_data.get("DISPLAYMATRIX")
    return None if matrix is None else np.frombuffer(bytes(matrix), np.int32).tolist()


def _frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    return stream.average_rate or stream.guessed_rate or Fraction(25)


def _expected_frames(clip: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int | None:
    """The frame count the container states, or duration x rate where it states only a duration (for the bar)."""
    if stream.frames:
        return stream.frames
    span = _stated_span(clip, stream)
    return None if span is None else round((span[1] - span[0]) * _frame_rate(stream))


def _stated_span(
    clip: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[Fraction, Fraction] | None:
    """(start, end) of the video in seconds, as the container states them, or None where it does not."""
    if stream.duration and stream.time_base:
        start = (stream.start_time or 0) * stream.time_base
        return start, start + stream.duration * stream.time_base
    start = Fraction(clip.start_time or 0, av.time_base)
    tagged = _tagged_duration(stream)
    if tagged is not None:
        return start, start + tagged
    # The container's duration spans every stream: the video's only where there is no audio.
    if clip.duration and not clip.streams.audio:
        return start, start + Fraction(clip.duration, av.time_base)
    return None


def _tagged_duration(stream: av.video.stream.VideoStream) -> Fraction | None:
    """The stream's own duration from its DURATION tag ("00:00:01.480000000"), which Matroska files
    written by ffmpeg carry per stream; None without one."""
    try:
        hours, minutes, seconds = stream.metadata["DURATION"].split(":")
        return (int(hours) * 60 + int(minutes)) * 60 + Fraction(seconds)
    except (KeyError, ValueError):
        return None


def _frame_step(stream: av.video.stream.VideoStream) -> int:
    """One frame's time in the stream's time base units."""
    return max(1, round(1 / (_frame_rate(stream) * stream.time_base)))


def encoded_as(first: av.VideoFrame) -> tuple[str, int]:
    """The pixel format and colour matrix (AVColorSpace) a clip starting with `first` is encoded in."""
    # 4:2:0 halves the chroma in both directions, so it needs even sizes; 4:4:4 keeps an odd size
    # exact (High 4:4:4 profile, which some hardware players cannot decode).
    pixel_format = "yuv420p" if first.width % 2 == 0 and first.height % 2 == 0 else "yuv444p"
    # An RGB-coded source (PNG or QuickTime Animation in a .mov) is written as YUV, with BT.709's matrix.
    return pixel_format, BT709 if first.colorspace == RGB else first.colorspace


def _add_encoder(
    output: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    first: av.VideoFrame,
    crf: int,
    preset: str,
) -> av.video.stream.VideoStream:
    """An H.264 stream with the source's size, rate, time base, colour tags and display matrix."""
    encoder = output.add_stream("libx264", rate=_frame_rate(stream))
    encoder.width, encoder.height = first.width, first.height
    encoder.pix_fmt, colorspace = encoded_as(first)
    encoder.time_base = encoder.codec_context.time_base = stream.time_base  # the source's timestamps, unscaled
    encoder.options = {"crf": str(crf), "preset": preset}
    encoder.codec_context.thread_count = 0  # x264 picks from the cores
    context, source = encoder.codec_context, stream.codec_context
    context.colorspace = colorspace
    context.color_range = first.color_range
    context.color_primaries, context.color_trc = source.color_primaries, source.color_trc
    if source.sample_aspect_ratio:  # anamorphic footage keeps its shape
        context.sample_aspect_ratio = source.sample_aspect_ratio
    matrix = _display_matrix(first)
    if matrix is not None:
        encoder.set_display_matrix(matrix)
    return encoder


def _copy_audio(
    output: av.container.OutputContainer, clip: av.container.InputContainer, source: Path, target: Path
) -> dict[int, av.stream.Stream]:
    """An output stream for every audio stream of the clip, to take its packets as they are; by input index."""
    copies = {}
    for stream in clip.streams.audio:
        try:
            copies[stream.index] = output.add_stream_from_template(stream)
        except ValueError:  # this container cannot hold that codec
            raise PhotostyleError(
                f"the audio of {source} ({stream.codec_context.name}) cannot be copied into a {target.suffix} file;"
                " rename the clip to .mkv (Matroska holds any audio) and stylize it again"
            ) from None
    return copies


@dataclass
class _Reading:
    frames: int = 0
    end: Fraction = Fraction(0)  # where the last frame decoded ends, in seconds
    error: str | None = None  # why reading stopped before the end of the file


def _read(
    clip: av.container.InputContainer,
    video: av.video.stream.VideoStream,
    audio: list[av.audio.stream.AudioStream],
    reading: _Reading,
) -> Iterator[av.VideoFrame | av.Packet]:
    """The clip's video frames (decoded, in display order) and audio packets, in file order.

    A read or decode error ends the clip there (a truncated file); `reading` says why.
    """
    video.codec_context.thread_type = "AUTO"
    step, last = _frame_step(video), None
    try:
        for packet in clip.demux(video, *audio):
            if packet.stream.index == video.index:
                for frame in packet.decode():  # the empty packet at the end flushes the decoder
                    frame.pts = last = _display_time(frame.pts, last, step)
                    reading.frames += 1
                    reading.end = (frame.pts + (frame.duration or step)) * frame.time_base
                    yield frame
            elif packet.dts is not None:  # not the empty end-of-stream packet
                yield packet
    except av.FFmpegError as error:
        reading.error = first_line(error)


def _display_time(pts: int | None, last: int | None, step: int) -> int:
    """A frame's pts, or one frame after the last one's where the file gives none or out of order
    (AVI stores no display times, so reordered H.264 frames in it come out mislabelled)."""
    if last is None:
        return pts or 0
    return pts if pts is not None and pts > last else last + step


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as (H, W, 3) uint8 RGB, by its own matrix and range (to_encoder uses them back)."""
    return frame.to_ndarray(format="rgb24", src_color_range=frame.color_range, interpolation=EXACT_TO_RGB)


def to_encoder(rgb: np.ndarray, source: av.VideoFrame, pixel_format: str, colorspace: int) -> av.VideoFrame:
    """(H, W, 3) uint8 RGB as a frame for the encoder (encoded_as's format and matrix), with the
    timestamps and colour range of the source frame it was made from."""
    # The same YUV <-> RGB matrix and range both ways, so an identity stylize_frame gives the clip back.
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    frame = frame.reformat(format=pixel_format, dst_colorspace=colorspace, dst_color_range=source.color_range)
    frame.pts, frame.time_base, frame.duration = source.pts, source.time_base, source.duration
    return frame


def _truncation_warning(
    source: Path, reading: _Reading, span: tuple[Fraction, Fraction] | None, frame_time: Fraction
) -> str | None:
    """Why the frames decoded stop short of the stated end (by more than a frame), or None."""
    short = span is not None and span[1] - reading.end > frame_time
    if reading.error is None and not short:
        return None
    until = f"up to {float(reading.end):.2f} s of {float(span[1]):.2f} s, " if short else ""
    reason = f"; {reading.error}" if reading.error else ""
    return (
        f"{source} ends early ({until}{reading.frames} frames decode{reason});"
        " the output holds those frames, re-export the original for the rest"
    )


def stylize_video(
    source: Path,
    target: Path,
    stylize_frame: FrameFunction,
    crf: int = VIDEO_CRF,
    preset: str = DEFAULT_PRESET,
    progress: bool = True,
) -> VideoResult:
    """Write `source` with every frame through stylize_frame to `target` (.mp4, .m4v, .mov or .mkv).

    H.264 at x264's `crf` and `preset`; the frame rate, timestamps, size, rotation and duration of
    the source's video, and its audio streams copied packet for packet. `target` appears complete
    or not at all. A truncated clip gives the frames that decode, with a warning in the result.
    """
    source, target = Path(source), Path(target)
    if target.suffix.lower() not in MUXERS:
        raise PhotostyleError(f"cannot write {target}: use one of {', '.join(MUXERS)} for a video")
    if target.resolve() == source.resolve():
        raise PhotostyleError(f"writing {target} would overwrite the input clip; choose another output")
    with _open_clip(source) as clip:
        video = _video_stream(clip, source)
        first = _first_frame(source, video.index)
        expected = _expected_frames(clip, video)
        reading = _Reading()
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_write(target) as file, av.open(file, "w", format=MUXERS[target.suffix.lower()]) as output:
                encoder = _add_encoder(output, video, first, crf, preset)
                formats = encoder.pix_fmt, encoder.codec_context.colorspace
                audio = _copy_audio(output, clip, source, target)
                bar = tqdm(total=expected, desc=source.name, unit="frame", leave=False, disable=not progress)
                with bar:
                    for item in _read(clip, video, [clip.streams[i] for i in audio], reading):
                        if isinstance(item, av.Packet):
                            item.stream = audio[item.stream.index]
                            output.mux(item)
                        else:
                            output.mux(encoder.encode(to_encoder(stylize_frame(to_rgb(item)), item, *formats)))
                            bar.update()
                output.mux(encoder.encode())  # the frames x264 still holds for its look-ahead
        except av.error.PyAVCallbackError as error:
            # A failed write to our file (a full disk) reaches us as PyAV's error, the OSError as its context.
            if isinstance(error.__context__, OSError):
                raise error.__context__ from None
            raise
        except av.FFmpegError as error:
            # Reading errors end the clip inside _read, so this is the muxer refusing what it was given:
            # an audio codec the container takes a stream of but cannot finish (PCM in .mp4).
            codecs = ", ".join(stream.codec_context.name for stream in clip.streams.audio) or "none"
            raise PhotostyleError(
                f"cannot write {target} ({error.strerror or error}; the clip's audio: {codecs});"
                " rename the clip to .mkv (Matroska holds any audio) and stylize it again"
            ) from None
        span, frame_time = _stated_span(clip, video), 1 / _frame_rate(video)
    return VideoResult(reading.frames, _truncation_warning(source, reading, span, frame_time))
