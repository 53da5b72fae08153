"""Mutated photo files (a seeded fuzzer) through the image reader and the serve API: every
one is decoded or refused with PhotostyleError / 413 / 422, never any other error."""

import io
import random
import shutil
import warnings

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from photostyle.errors import PhotostyleError
from photostyle.images import decode_photo

from conftest import smooth_photo

# Values that tend to find the edges of a parser's arithmetic.
INTERESTING = [
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x01",
]


def _encoded(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def seed_files() -> dict[str, bytes]:
    """Small valid files of every format the reader meets, in several of each format's flavours."""
    photo = Image.fromarray(smooth_photo(24, 32))
    exif = photo.getexif()
    exif[0x0112] = 6  # rotated, so the orientation path runs too
    frames = [photo.quantize(16), photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT).quantize(16)]
    deep = Image.fromarray(np.asarray(photo.convert("L"), np.uint16) * 257)
    return {
        "jpeg": _encoded(photo, format="JPEG", quality=80, exif=exif),
        "progressive jpeg": _encoded(photo, format="JPEG", progressive=True),
        "cmyk jpeg": _encoded(photo.convert("CMYK"), format="JPEG"),
        "png": _encoded(photo, format="PNG"),
        "rgba png": _encoded(photo.convert("RGBA"), format="PNG"),
        "palette png": _encoded(photo.quantize(8), format="PNG", transparency=0),
        "16-bit png": _encoded(deep, format="PNG"),
        "tiff": _encoded(photo, format="TIFF"),
        "lzw tiff": _encoded(photo, format="TIFF", compression="tiff_lzw"),
        "packbits tiff": _encoded(photo.convert("L"), format="TIFF", compression="packbits"),
        "float tiff": _encoded(Image.fromarray(np.linspace(0, 1, 96, dtype=np.float32).reshape(8, 12)), format="TIFF"),
        "webp": _encoded(photo, format="WEBP", quality=70),
        "lossless webp": _encoded(photo.convert("RGBA"), format="WEBP", lossless=True),
        "animated gif": _encoded(frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=50),
        "bmp": _encoded(photo, format="BMP"),
    }


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four byte flips, overwrites, insertions, deletions or a truncation."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data))
        kind = rng.randrange(5)
        if kind == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            value = rng.choice(INTERESTING)
            data[at : at + len(value)] = value
        elif kind == 2:
            data[at:at] = rng.randbytes(rng.randint(1, 16))
        elif kind == 3:
            del data[at : at + rng.randint(1, 16)]
        else:
            return bytes(data[:at])
    return bytes(data)


def cases(count: int, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    seeds = list(seed_files().items())
    return [(name, mutate(data, rng)) for name, data in (seeds[i % len(seeds)] for i in range(count))]


def test_the_seed_files_are_valid():
    for name, data in seed_files().items():
        assert decode_photo(io.BytesIO(data), name).rgb.shape[2] == 3, name


def test_mutated_files_decode_or_raise_photostyle_error(record_property):
    outcomes = {"decoded": 0, "refused": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about the corrupt EXIF and truncated data it tolerates
        for number, (name, data) in enumerate(cases(6000, seed=21)):
            try:
                photo = decode_photo(io.BytesIO(data), f"case {number} ({name})", max_side=64, max_pixels=1_000_000)
            except PhotostyleError:
                outcomes["refused"] += 1
                continue
            except Exception as error:
                pytest.fail(f"case {number} (a mutated {name}) raised {type(error).__name__}: {error}")
            assert photo.rgb.ndim == 3 and photo.rgb.shape[2] == 3 and np.isfinite(photo.rgb).all(), (number, name)
            outcomes["decoded"] += 1
    # Both outcomes occur: the mutations neither all break the files nor all miss the pixels.
    assert outcomes["decoded"] > 100 and outcomes["refused"] > 100, outcomes
    record_property("cases", 6000)


def test_mutated_uploads_get_200_413_or_422(tiny_model, tmp_path):
    from photostyle.inference.serve import create_app

    shutil.copy(tiny_model, tmp_path / "m.onnx")
    statuses = set()
    with (
        warnings.catch_warnings(),
        TestClient(create_app(tmp_path, max_pixels=1_000_000, allowed_hosts=["testserver"])) as client,
    ):
        warnings.simplefilter("ignore")
        for number, (name, data) in enumerate(cases(2000, seed=2121)):
            answer = client.post(
                "/api/stylize", files={"image": ("upload", data, "application/octet-stream")}, data={"model": "m"}
            )
            assert answer.status_code in (200, 413, 422), (number, name, answer.status_code, answer.text[:300])
            statuses.add(answer.status_code)
    assert {200, 422} <= statuses
