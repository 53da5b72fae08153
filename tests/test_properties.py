"""Property-based tests (hypothesis): any size from 1x1 to 2000x2000 and any mode survives
reading, stylizing and writing with its size kept and finite values in [0, 1]."""

import io

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from photostyle.images import read_photo, write_photo
from photostyle.inference.runtime import StyleModel
from photostyle.networks.bilateral import BilateralNet

sizes = st.tuples(st.integers(1, 2000), st.integers(1, 2000))
# Each mode with the formats that can hold it.
MODES = {
    "RGB": ["PNG", "JPEG", "WEBP", "TIFF", "BMP"],
    "RGBA": ["PNG", "WEBP", "TIFF"],
    "L": ["PNG", "JPEG", "TIFF"],
    "LA": ["PNG"],
    "P": ["PNG", "GIF", "BMP"],
    "1": ["PNG", "TIFF", "BMP"],
    "I;16": ["PNG", "TIFF"],
    "CMYK": ["JPEG", "TIFF"],
}


def random_image(mode: str, height: int, width: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    # Smooth ramps plus noise: like a photo, and cheap to compress at 2000x2000.
    ramp = (np.add.outer(np.arange(height), np.arange(width)) % 256).astype(np.uint8)
    rgb = np.stack(
        [ramp, ramp[::-1] if height > 1 else ramp, rng.integers(0, 256, (height, width), dtype=np.uint8)], axis=2
    )
    image = Image.fromarray(rgb)
    if mode == "I;16":
        return Image.fromarray(ramp.astype(np.uint16) * 257)
    return image.quantize(16) if mode == "P" else image.convert(mode)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=sizes,
    mode_and_format=st.sampled_from([(m, f) for m, formats in MODES.items() for f in formats]),
    seed=st.integers(0, 9),
)
def test_any_size_and_mode_reads_to_rgb_in_range_and_writes_back(tmp_path, size, mode_and_format, seed):
    mode, file_format = mode_and_format
    height, width = size
    if file_format == "WEBP" and max(size) > 16383:
        return
    buffer = io.BytesIO()
    random_image(mode, height, width, seed).save(buffer, format=file_format)
    path = tmp_path / f"photo.{file_format.lower()}"
    path.write_bytes(buffer.getvalue())
    photo = read_photo(path)
    assert photo.rgb.shape == (height, width, 3) and photo.rgb.dtype == np.float32
    assert np.isfinite(photo.rgb).all() and photo.rgb.min() >= 0 and photo.rgb.max() <= 1
    if photo.alpha is not None:
        assert photo.alpha.shape == (height, width)
    out = tmp_path / "out.png"
    write_photo(out, photo.rgb, photo.alpha)
    assert Image.open(out).size == (width, height)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=sizes, seed=st.integers(0, 9))
def test_the_exported_model_keeps_any_size_and_range(tiny_model, size, seed):
    rgb = np.random.default_rng(seed).random((*size, 3), dtype=np.float32)
    stylized = StyleModel(tiny_model, threads=2)(rgb)
    assert stylized.shape == rgb.shape and np.isfinite(stylized).all() and 0 <= stylized.min() and stylized.max() <= 1


_bilateral = BilateralNet().eval()


@settings(max_examples=12, deadline=None)
@given(size=sizes, seed=st.integers(0, 9))
def test_the_bilateral_network_keeps_any_size_and_stays_finite(size, seed):
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        output = _bilateral(image)
    assert output.shape == image.shape and torch.isfinite(output).all()
