"""The runtime's use of a model's look: big photos in bands, videos with the look carried over."""

import numpy as np
import pytest

from photostyle.errors import PhotostyleError
from photostyle.inference import runtime
from photostyle.inference.runtime import StyleModel, colour_histogram, histogram_distance

from conftest import moving_square, smooth_photo


@pytest.mark.slow  # tiny_look_model is an export
def test_a_big_photo_in_bands_is_the_photo_in_one_piece(tiny_look_model, monkeypatch):
    model = StyleModel(tiny_look_model, threads=1)
    photo = smooth_photo(90, 70)
    whole, look = model.stylize(photo)
    monkeypatch.setattr(runtime, "BANDED_FROM_PIXELS", 1000)
    monkeypatch.setattr(runtime, "BAND_PIXELS", 700)  # 10 rows a band, 9 bands
    banded, banded_look = model.stylize(photo)
    np.testing.assert_array_equal(banded, whole)
    np.testing.assert_array_equal(banded_look, look)
    assert np.abs(whole.astype(int) - photo).max() > 10  # the model does change the photo


@pytest.mark.slow  # tiny_look_model is an export
def test_strength_blends_with_the_photo(tiny_look_model):
    model = StyleModel(tiny_look_model, threads=1)
    photo = smooth_photo(30, 40)
    full, _ = model.stylize(photo)
    np.testing.assert_array_equal(model.stylize(photo, strength=0)[0], photo)
    half, _ = model.stylize(photo, strength=0.5)
    assert np.abs(half.astype(float) - (photo / 2 + full / 2)).max() <= 1


@pytest.mark.slow  # tiny_look_model is an export
def test_a_clip_carries_the_look_from_frame_to_frame(tiny_look_model):
    """With smoothing, the look moves less from one frame to the next than frame by frame, and
    each frame's look is the blend of its own with the previous one's."""
    model = StyleModel(tiny_look_model, threads=1)
    frames = moving_square(8)
    own = [model.stylize(frame)[1] for frame in frames]
    clip = model.clip(smoothing=0.8)
    looks = []
    for frame in frames:
        clip(frame)
        looks.append(clip.look)
    np.testing.assert_allclose(looks[0], own[0], atol=1e-6)
    for previous, now, frame_own in zip(looks, looks[1:], own[1:]):
        np.testing.assert_allclose(now, frame_own + 0.8 * (previous - frame_own), atol=1e-5)
    own_change = np.mean([np.abs(b - a).mean() for a, b in zip(own, own[1:])])
    smooth_change = np.mean([np.abs(b - a).mean() for a, b in zip(looks, looks[1:])])
    assert smooth_change < 0.5 * own_change
    assert clip.cuts == 1  # the first frame only: a square crossing is no scene cut


@pytest.mark.slow  # tiny_look_model is an export
def test_a_scene_cut_starts_the_look_afresh(tiny_look_model):
    model = StyleModel(tiny_look_model, threads=1)
    clip = model.clip(smoothing=0.9)
    for frame in moving_square(4):
        clip(frame)
    other = (255 - smooth_photo(48, 64)[::-1]).copy()  # another scene: other colours
    stylized = clip(other)
    assert clip.cuts == 2
    np.testing.assert_array_equal(stylized, model.stylize(other)[0])


def test_frames_are_compared_by_their_colours():
    photo = smooth_photo(48, 64)
    assert histogram_distance(colour_histogram(photo), colour_histogram(photo)) == 0
    assert histogram_distance(colour_histogram(photo), colour_histogram(255 - photo)) > runtime.SCENE_CUT
    moved = moving_square(2)
    assert histogram_distance(colour_histogram(moved[0]), colour_histogram(moved[1])) < runtime.SCENE_CUT


def test_a_model_without_a_look_stylizes_each_frame_on_its_own(tiny_model):
    model = StyleModel(tiny_model, threads=1)
    clip = model.clip(smoothing=0.8)
    for frame in moving_square(3):
        np.testing.assert_array_equal(clip(frame), model.stylize(frame)[0])


def test_smoothing_out_of_range_is_one_clear_error(tiny_model):
    with pytest.raises(PhotostyleError, match=r"smoothing=1.0 must be in \[0, 1\)"):
        StyleModel(tiny_model).clip(smoothing=1.0)


def test_a_folder_given_as_the_model_is_named_as_one(tmp_path):
    with pytest.raises(PhotostyleError, match="is a folder; give the .onnx file export.py wrote"):
        StyleModel(tmp_path)
