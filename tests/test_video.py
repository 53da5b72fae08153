"""Video clips through stylize_video and `photostyle stylize`: timing, size, rotation and audio kept; never a partial
file."""

import errno
import itertools
import os
from contextlib import contextmanager
from fractions import Fraction

import av
import numpy as np
import pytest
from video_files import (
    FPS,
    audio_packets,
    decoded,
    leftovers,
    luma,
    rgb,
    truncated,
    write_audio_only,
    write_bytes,
    write_clip,
    write_text,
)

from photostyle.errors import PhotostyleError
from photostyle.files import atomic_write
from photostyle.inference import video
from photostyle.inference.runtime import StyleModel
from photostyle.inference.stylize import plan_outputs, stylize_paths
from photostyle.inference.video import stylize_video

from conftest import PHOTOSTYLE, run, save_photo


def invert(frame: np.ndarray) -> np.ndarray:
    return 255 - frame


def test_keeps_frames_rate_size_timestamps_duration_and_audio(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", frames=30, audio=("aac", "aac"))
    result = stylize_video(source, tmp_path / "out.mp4", invert, crf=0, progress=False)
    assert result.frames == 30 and result.warning is None
    before, after = decoded(source), decoded(tmp_path / "out.mp4")
    assert len(after) == 30
    assert [f.time for f in after] == [f.time for f in before]  # the same timestamps, in seconds
    assert (after[0].width, after[0].height) == (64, 48)
    with av.open(str(source)) as original, av.open(str(tmp_path / "out.mp4")) as written:
        assert written.streams.video[0].average_rate == FPS
        assert written.streams.video[0].codec_context.name == "h264"
        assert written.duration == original.duration
        assert len(written.streams.audio) == 2
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(source)  # copied, not re-encoded
    # Within the error of H.264 (lossless at crf 0) and of 4:2:0 chroma on the way to and from RGB.
    error = np.abs(rgb(after) - invert(rgb(before)))
    assert error.mean() < 1.5 and np.percentile(error, 99) < 8


def test_the_frame_function_sees_every_frame_once_in_display_order(tmp_path):
    """x264's B-frames make decode order differ from display order; a stateful frame function needs the latter."""
    source = write_clip(tmp_path / "clip.mp4", frames=20)
    seen, count = [], itertools.count()

    def stamp(frame: np.ndarray) -> np.ndarray:
        seen.append(frame.copy())
        return np.full_like(frame, 10 * next(count))  # frame k of the output is grey level 10k

    stylize_video(source, tmp_path / "out.mp4", stamp, crf=0, progress=False)
    assert np.array_equal(np.stack(seen), rgb(decoded(source)))
    levels = rgb(decoded(tmp_path / "out.mp4")).mean((1, 2, 3))
    assert np.abs(levels - 10 * np.arange(20)).max() <= 1  # video-range YUV holds a grey to within a level


def test_an_identity_frame_function_gives_the_clip_back(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", frames=10)
    stylize_video(source, tmp_path / "out.mp4", lambda frame: frame, crf=0, progress=False)
    error = rgb(decoded(tmp_path / "out.mp4")) - rgb(decoded(source))
    assert abs(error.mean()) < 0.1 and np.abs(error).mean() < 1  # no drift of brightness, only rounding


def test_quality_follows_crf(tmp_path):
    source = write_clip(tmp_path / "clip.mp4")
    errors = {}
    for crf in (0, 40):
        stylize_video(source, tmp_path / f"{crf}.mp4", invert, crf=crf, progress=False)
        errors[crf] = np.abs(rgb(decoded(tmp_path / f"{crf}.mp4")) - invert(rgb(decoded(source)))).mean()
    assert errors[40] > 2 * errors[0]
    assert (tmp_path / "40.mp4").stat().st_size < (tmp_path / "0.mp4").stat().st_size


def test_variable_frame_rate_keeps_every_timestamp(tmp_path):
    pts = [0, 1, 2, 4, 5, 9, 10, 11, 15, 16]  # dropped frames, as a phone records in the dark
    source = write_clip(tmp_path / "clip.mkv", frames=len(pts), pts=pts)
    stylize_video(source, tmp_path / "out.mkv", invert, progress=False)
    assert [f.time for f in decoded(tmp_path / "out.mkv")] == [f.time for f in decoded(source)]


def test_reordered_frames_in_avi_get_increasing_timestamps(tmp_path):
    """AVI stores no display times, so H.264 with B-frames in it decodes with its frames' pts mislabelled."""
    source = write_clip(tmp_path / "clip.avi", frames=12)
    times = [frame.time for frame in decoded(source)]
    assert times != sorted(times)  # the mislabelling this test is about
    stylize_video(source, tmp_path / "out.mkv", invert, progress=False)
    written = [frame.time for frame in decoded(tmp_path / "out.mkv")]
    assert len(written) == 12 and all(a < b for a, b in zip(written, written[1:]))


def test_rotation_is_kept_as_metadata_and_the_pixels_unrotated(tmp_path):
    source = write_clip(tmp_path / "phone.mov", rotation=90, frames=10)
    seen = []
    stylize_video(source, tmp_path / "out.mov", lambda frame: seen.append(frame.shape) or frame, progress=False)
    assert seen == [(48, 64, 3)] * 10  # the frame function sees the frames as stored
    frame = decoded(tmp_path / "out.mov")[0]
    assert (frame.width, frame.height, frame.rotation) == (64, 48, 90)


def test_anamorphic_footage_keeps_its_pixel_aspect_ratio(tmp_path):
    source = write_clip(tmp_path / "wide.mp4", frames=5, pixel_aspect=Fraction(4, 3))
    stylize_video(source, tmp_path / "out.mp4", invert, progress=False)
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.video[0].sample_aspect_ratio == Fraction(4, 3)


def test_an_rgb_coded_clip_is_written_as_yuv_tagged_with_the_matrix_it_was_converted_with(tmp_path):
    """PNG frames in a .mov carry the RGB matrix code, which H.264 4:2:0 cannot use."""
    source = write_clip(tmp_path / "frames.mov", frames=5, codec="png")
    stylize_video(source, tmp_path / "out.mov", lambda frame: frame, crf=0, progress=False)
    after = decoded(tmp_path / "out.mov")
    assert after[0].format.name.endswith("420p") and after[0].colorspace == 1  # BT.709, full range as the PNGs
    tagged = np.stack([f.to_ndarray(format="rgb24", src_colorspace=f.colorspace) for f in after]).astype(int)
    # 4:2:0 blurs the colours; their mean, converted with the tagged matrix, stays the source's.
    assert np.abs(tagged.mean(axis=(0, 1, 2)) - rgb(decoded(source)).mean(axis=(0, 1, 2))).max() < 2


def test_audio_that_outlasts_the_video_in_matroska_is_no_sign_of_a_cut(tmp_path):
    """Matroska states only the whole file's duration, here the audio's 1.5 s against 0.4 s of video."""
    source = write_clip(tmp_path / "clip.mkv", frames=10, audio=("libopus",), audio_seconds=1.5)
    result = stylize_video(source, tmp_path / "out.mkv", invert, progress=False)
    assert result.frames == 10 and result.warning is None


def test_odd_size_is_kept_exactly(tmp_path):
    source = write_clip(tmp_path / "odd.mp4", width=63, height=47, frames=10)
    stylize_video(source, tmp_path / "out.mp4", invert, crf=0, progress=False)
    before, after = decoded(source), decoded(tmp_path / "out.mp4")
    assert (after[0].width, after[0].height) == (63, 47)
    assert after[0].format.name == "yuv444p"  # 4:2:0 cannot hold an odd size
    assert np.abs(rgb(after) - invert(rgb(before))).mean() < 1.5


@pytest.mark.parametrize(
    "name, codec, audio, written, muxer",
    [
        ("clip.mov", "libx264", "aac", "clip.mov", "mov"),
        ("clip.mkv", "libx264", "libopus", "clip.mkv", "matroska"),
        ("clip.webm", "libvpx-vp9", "libopus", "clip.mkv", "matroska"),  # WebM cannot hold H.264
        ("clip.avi", "mpeg4", "libmp3lame", "clip.mkv", "matroska"),  # nor AVI its reordered frames
    ],
)
def test_containers(tmp_path, name, codec, audio, written, muxer):
    source = write_clip(tmp_path / name, frames=10, codec=codec, audio=(audio,))
    [(_, target)] = plan_outputs([source], tmp_path / "out", overwrite=False)
    assert target.name == written
    stylize_video(source, target, invert, progress=False)
    with av.open(str(target)) as container:
        assert muxer in container.format.name and container.streams.video[0].codec_context.name == "h264"
    assert len(decoded(target)) == 10
    assert audio_packets(target) == audio_packets(source)


def test_audio_the_container_cannot_hold_is_one_line_with_the_fix(tmp_path):
    source = write_clip(tmp_path / "clip.mov", frames=5, audio=("vorbis",), muxer="matroska")  # misnamed
    with pytest.raises(
        PhotostyleError, match=r"\(vorbis\) cannot be copied into a \.mov file; rename the clip to \.mkv"
    ):
        stylize_video(source, tmp_path / "out.mov", invert, progress=False)
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mov").exists()


def test_audio_the_container_takes_but_cannot_finish_is_one_line_with_the_fix(tmp_path):
    # PCM in an AVI renamed .mp4: the MP4 muxer accepts the stream and fails only when it closes the file.
    source = write_clip(tmp_path / "clip.mp4", frames=5, codec="mpeg4", audio=("pcm_s16le",), muxer="avi")
    with pytest.raises(PhotostyleError, match=r"cannot write .*out\.mp4 .*pcm_s16le.*rename the clip to \.mkv"):
        stylize_video(source, tmp_path / "out.mp4", invert, progress=False)
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mp4").exists()


def test_shows_progress_in_frames(tmp_path, capsys):
    stylize_video(write_clip(tmp_path / "clip.mp4", frames=12), tmp_path / "out.mp4", invert)
    err = capsys.readouterr().err
    assert "clip.mp4" in err and "/12 " in err and "frame/s" in err  # counted in frames, of the stated total


class Stop(Exception):
    pass


@pytest.mark.parametrize("interruption", [Stop, KeyboardInterrupt])
def test_no_partial_file_after_an_error_or_ctrl_c(tmp_path, interruption):
    source = write_clip(tmp_path / "clip.mp4", frames=20, audio=("aac",))
    calls = []

    def failing(frame: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 10:
            raise interruption()
        return frame

    with pytest.raises(interruption):
        stylize_video(source, tmp_path / "out.mp4", failing, progress=False)
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []


class _DiskThatFillsUp:
    """A written stream that runs out of room after `room` bytes, as a full disk does."""

    def __init__(self, stream, room: int):
        self.stream, self.room = stream, room

    def write(self, data) -> int:
        if self.stream.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.stream.write(data)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def test_a_full_disk_is_the_write_error_it_is_not_pyavs(tiny_model, tmp_path, monkeypatch):
    source = write_clip(tmp_path / "clip.mp4", width=160, height=120, frames=20)

    @contextmanager
    def full_disk(path):
        with atomic_write(path) as stream:
            yield _DiskThatFillsUp(stream, room=2000)

    monkeypatch.setattr(video, "atomic_write", full_disk)
    with pytest.raises(OSError) as raised:
        stylize_video(source, tmp_path / "out.mp4", invert, progress=False)
    assert raised.value.errno == errno.ENOSPC
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []
    # ... so a batch says which file and why in one line, and goes on.
    failures = stylize_paths(tiny_model, [source], tmp_path / "batch")
    assert failures == [f"{tmp_path / 'batch' / 'clip.mp4'}: {os.strerror(errno.ENOSPC)}"]


def test_never_overwrites_the_input(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", frames=5)
    original = source.read_bytes()
    with pytest.raises(PhotostyleError, match="overwrite the input"):
        stylize_video(source, source, invert, progress=False)
    with pytest.raises(PhotostyleError, match="use one of"):
        stylize_video(source, tmp_path / "out.webm", invert, progress=False)
    assert source.read_bytes() == original


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda folder: folder / "missing.mp4", "no such file"),
        (lambda folder: write_text(folder / "notes.mp4", "not a video\n"), "not a video ffmpeg can read"),
        (lambda folder: write_bytes(folder / "noise.mkv", 5000), "not a video ffmpeg can read"),
        # An mp4 keeps its index at the end by default, so a cut one has none.
        (lambda folder: truncated(write_clip(folder / "cut.mp4"), 0.6), "truncated or corrupt"),
        (lambda folder: truncated(write_clip(folder / "cut.mkv"), 0.3), "no frame decodes"),
        (lambda folder: write_audio_only(folder / "song.mp4"), "no video stream (only audio)"),
    ],
    ids=["missing", "text", "noise", "truncated-mp4", "truncated-in-first-frame", "audio-only"],
)
def test_bad_input_is_one_line_with_the_fix(tmp_path, make, message):
    with pytest.raises(PhotostyleError) as error:
        stylize_video(make(tmp_path), tmp_path / "out.mp4", invert, progress=False)
    text = str(error.value)
    assert message in text and "\n" not in text and ";" in text  # the problem; the fix
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []


def test_a_cut_clip_that_opens_with_no_streams_is_called_truncated(tmp_path):
    data = write_clip(tmp_path / "clip.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    # Where ffmpeg finds no stream at all, rather than failing to open, depends on where the cut falls.
    for fraction in np.arange(0.3, 0.96, 0.01):
        cut.write_bytes(data[: int(len(data) * fraction)])
        try:
            with av.open(str(cut)) as clip:
                if not clip.streams:
                    break
        except av.FFmpegError:
            continue
    else:
        pytest.skip("no cut of this clip opens with no streams in this ffmpeg")
    with pytest.raises(PhotostyleError, match="holds no streams: it is truncated or corrupt; re-export the original"):
        stylize_video(cut, tmp_path / "out.mp4", invert, progress=False)


@pytest.mark.parametrize("name, options", [("cut.mp4", {"movflags": "+faststart"}), ("cut.mkv", {})])
def test_truncated_clip_gives_the_frames_that_decode_and_a_warning(tmp_path, name, options):
    """With its index up front (an mp4 with faststart, any mkv), a cut clip still decodes up to the cut."""
    source = truncated(write_clip(tmp_path / name, frames=30, options=options), 0.9)
    result = stylize_video(source, tmp_path / f"out{source.suffix}", invert, progress=False)
    assert 0 < result.frames < 30
    assert "ends early" in result.warning and f"{result.frames} frames decode" in result.warning
    assert len(decoded(tmp_path / f"out{source.suffix}")) == result.frames


def test_plan_finds_photos_and_clips_in_folders(tmp_path):
    folder = tmp_path / "shoot"
    save_photo(folder / "a.jpg", 20, 30)
    write_clip(folder / "day" / "b.mp4", frames=2)
    write_clip(folder / "day" / "c.webm", frames=2, codec="libvpx-vp9")
    (folder / "notes.txt").write_text("not a photo")
    plan = plan_outputs([folder], tmp_path / "out", overwrite=False)
    assert [target.relative_to(tmp_path / "out").as_posix() for _, target in plan] == [
        "shoot/a.jpg",
        "shoot/day/b.mp4",
        "shoot/day/c.mkv",
    ]


def test_a_webm_and_an_mkv_of_the_same_name_are_refused(tmp_path):
    write_clip(tmp_path / "in" / "c.webm", frames=2, codec="libvpx-vp9")
    write_clip(tmp_path / "in" / "c.mkv", frames=2)
    with pytest.raises(PhotostyleError, match="would both be written"):
        plan_outputs([tmp_path / "in"], tmp_path / "out", overwrite=False)


@pytest.mark.slow
def test_stylize_paths_does_photos_and_clips_in_one_call(tiny_look_model, tmp_path):
    folder = tmp_path / "shoot"
    save_photo(folder / "a.png", 20, 30)
    source = write_clip(folder / "b.mp4", frames=10, audio=("aac",))
    assert stylize_paths(tiny_look_model, [folder], tmp_path / "out", crf=0, smoothing=0.8) == []
    assert (tmp_path / "out" / "shoot" / "a.png").is_file()
    stylize_frame = StyleModel(tiny_look_model).clip(smoothing=0.8)  # the look carried from frame to frame, in order
    expected = np.stack([stylize_frame(frame) for frame in rgb(decoded(source)).astype(np.uint8)])
    written = rgb(decoded(tmp_path / "out" / "shoot" / "b.mp4"))
    # Luma, which 4:2:0 keeps whole (and which a YUV round trip keeps whatever it does to the chroma).
    error = np.abs(luma(written) - luma(expected))
    assert error.mean() < 0.6 and np.percentile(error, 99) < 2
    assert np.abs(luma(expected) - luma(rgb(decoded(source)))).mean() > 5  # so the model did change the frames
    assert audio_packets(tmp_path / "out" / "shoot" / "b.mp4") == audio_packets(source)
    # --post reaches the frames too: here a "clean-up" that ignores the model and inverts the photo.
    assert stylize_paths(tiny_look_model, [source], tmp_path / "post", crf=0, post=lambda photo, _: 1 - photo) == []
    assert np.abs(rgb(decoded(tmp_path / "post" / "b.mp4")) - invert(rgb(decoded(source)))).mean() < 1.5


@pytest.mark.slow
def test_cli_stylizes_a_clip_and_a_photo(tiny_look_model, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=10, audio=("aac",))
    photo = save_photo(tmp_path / "photo.jpg", 24, 32)
    options = ["--crf", "20", "--smoothing", "0.5"]
    result = run(
        PHOTOSTYLE, "stylize", str(tiny_look_model), str(clip), str(photo), "-o", str(tmp_path / "out"), *options
    )
    assert result.returncode == 0, result.stderr
    assert "frame" in result.stderr  # the clip's progress bar
    assert len(decoded(tmp_path / "out" / "clip.mp4")) == 10 and (tmp_path / "out" / "photo.jpg").is_file()
    bad = run(PHOTOSTYLE, "stylize", str(tiny_look_model), str(clip), "-o", str(tmp_path / "o2"), "--smoothing", "1")
    assert bad.returncode == 2 and "--smoothing" in bad.stderr and not (tmp_path / "o2").exists()
