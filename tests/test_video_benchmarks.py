"""The clips the video benchmarks are measured on, and the speed benchmark on a tiny clip."""

import re

import numpy as np
import pytest

from benchmarks.clips import CLIPS, scene_cut_frames, static_camera_frames, write_clips

from conftest import PYTHON, run


def test_clips_are_deterministic_and_sized(tmp_path):
    for name, make in CLIPS.items():
        first, again = list(make((64, 48), 12)), list(make((64, 48), 12))
        assert len(first) == 12 and all(frame.shape == (48, 64, 3) and frame.dtype == np.uint8 for frame in first)
        assert all(np.array_equal(a, b) for a, b in zip(first, again)), name
    paths = write_clips(tmp_path, (64, 48), frames=6, fps=25)
    assert [p.name for p in paths] == ["static_camera.mp4", "light_change.mp4", "scene_cut.mp4"]


def test_an_object_crosses_the_static_camera_and_the_scene_cut_is_one_frame():
    frames = np.stack(list(static_camera_frames((160, 90), 20))).astype(np.float32)
    left, right = frames[:, :, :80].mean((1, 2, 3)), frames[:, :, 80:].mean((1, 2, 3))
    assert np.abs(left[5] - left[0]) > 2 and np.abs(right[15] - right[0]) > 2  # the object passes each half
    cut = np.stack(list(scene_cut_frames((160, 90), 20, cut_at=8))).astype(np.float32)
    assert np.array_equal(cut[:8], frames[:8])
    change = np.abs(np.diff(cut, axis=0)).mean((1, 2, 3))  # change between consecutive frames
    assert change.argmax() == 7 and change[7] > 5 * np.delete(change, 7).max()


@pytest.mark.slow
def test_video_speed_benchmark_reports_both_paths(tiny_model):
    result = run(
        PYTHON, "-m", "benchmarks.video_speed", str(tiny_model), "--size", "64x48", "--frames", "8", "--repeats", "1"
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"\| floor: decode \+ encode \| [\d.]+ \| [\d.]+ \|", result.stdout)
    assert re.search(r"\| decode \+ stylize \+ encode \| [\d.]+ \| [\d.]+ \|", result.stdout)
    assert re.search(r"stylize path / floor: [\d.]+x the floor's frames/s", result.stdout)
    # decode .. encode and their sum; encode is the floor less decoding, timed apart, which on a clip
    # this small can come out below zero when the machine is busy
    assert re.search(r"^(\| -?[\d.]+ ){6}\|$", result.stdout, re.MULTILINE)
    assert re.search(r"peak RSS of a process that loads the model and stylizes the clip: \d+ MiB", result.stdout)


@pytest.mark.slow
def test_flicker_benchmark_compares_the_outputs_and_sees_the_scene_cut(tiny_look_model):
    result = run(PYTHON, "-m", "benchmarks.flicker", str(tiny_look_model), "--size", "96x54", "--frames", "8")
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [[cell.strip() for cell in row] for row in rows[1:]]  # past the header
    assert [(row[0], row[1]) for row in rows] == [
        (clip, output)
        for clip in ("static_camera", "light_change", "scene_cut")
        for output in ("input", "one fixed look", "frame by frame", "smoothed 0.9")
    ]
    for row in rows:
        if row[1] == "input":
            assert row[4] == "1.00x"  # each output's still change against its own clip's input
        if row[1] == "one fixed look":
            assert row[5] == "1.00x"
    assert rows[-1][7] == "0"  # the cut is seen at once: the look starts afresh
