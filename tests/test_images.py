import errno
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photostyle.errors import PhotostyleError
from photostyle.images import JPEG_MAX_EXIF, read_photo, write_photo
from photostyle.photo_folders import find_photos

from conftest import PHOTO_FOLDER_PHOTOS, save_photo, smooth_photo


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


@pytest.mark.parametrize("mode", ["RGB", "L", "1", "CMYK", "RGBA", "LA", "P", "I;16", "I"])
def test_every_mode_becomes_rgb_in_unit_range(tmp_path, mode):
    rgb = Image.fromarray(smooth_photo(21, 34))
    image = (
        rgb.convert(mode)
        if mode not in ("I;16", "I")
        else Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257).convert(mode)
    )
    suffix = ".jpg" if mode == "CMYK" else ".tiff" if mode == "I" else ".png"
    photo = read_photo(save(image, tmp_path / f"x{suffix}"))
    assert photo.rgb.shape == (21, 34, 3) and photo.rgb.dtype == np.float32
    assert 0 <= photo.rgb.min() and photo.rgb.max() <= 1


def test_sixteen_bit_becomes_the_nearest_eight_bit_level(tmp_path):
    """What the style model takes, and what is written, is 8 bits a channel."""
    ramp = np.linspace(0, 65535, 300, dtype=np.uint16).reshape(1, 300).repeat(4, 0)
    photo = read_photo(save(Image.fromarray(ramp), tmp_path / "deep.png"))
    assert photo.pixels.dtype == np.uint8
    np.testing.assert_array_equal(photo.pixels[0, :, 0], np.round(ramp[0] / 257).astype(np.uint8))


def test_transparency_is_kept_as_alpha(tmp_path):
    rgba = np.dstack([smooth_photo(10, 12), np.full((10, 12), 255, np.uint8)])
    rgba[:5, :, 3] = 0
    photo = read_photo(save(Image.fromarray(rgba), tmp_path / "a.png"))
    assert photo.alpha is not None and photo.alpha[:5].max() == 0 and photo.alpha[5:].min() == 255
    palette = Image.fromarray(smooth_photo(10, 12)).convert("P")
    corner = palette.getpixel((0, 0))  # make the corner pixel's palette entry transparent
    assert read_photo(save(palette, tmp_path / "p.png", transparency=corner)).alpha[0, 0] == 0
    deep = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    alpha = read_photo(save(Image.fromarray(deep), tmp_path / "deep.png", transparency=2000)).alpha
    assert alpha is not None and alpha[0, 2] == 0 and (alpha == 255).sum() == 11  # a 16-bit grey level made clear
    opaque = np.dstack([smooth_photo(10, 12), np.full((10, 12), 255, np.uint8)])
    assert read_photo(save(Image.fromarray(opaque), tmp_path / "o.png")).alpha is None


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(smooth_photo(20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    photo = read_photo(save(image, tmp_path / "rotated.jpg", exif=exif))
    assert photo.rgb.shape == (30, 20, 3)
    carried = Image.Exif()
    carried.load(photo.exif)
    assert carried[0x0112] == 1


def test_a_malformed_exif_tag_costs_the_exif_not_the_photo(tmp_path):
    """The camera model (an ASCII tag) stored as a RATIONAL: Pillow reads it, but cannot write it
    back, which once made a readable photo "truncated or corrupt"."""
    entries = [(0x0112, 3, 1, struct.pack("<HH", 6, 0)), (0x0110, 5, 1, struct.pack("<I", 8))]
    directory = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI", *e[:3]) + e[3] for e in entries)
    exif = b"Exif\0\0II*\0" + struct.pack("<I", 8) + directory + b"\0" * 4
    photo = read_photo(save(Image.fromarray(smooth_photo(20, 30)), tmp_path / "odd.jpg", exif=exif))
    assert photo.rgb.shape == (30, 20, 3)  # still turned upright
    assert photo.exif is None


def test_exif_too_long_for_a_jpeg_is_left_out_of_it(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x927C] = b"maker note " * 7000  # a camera maker's note of 77 kB
    long_exif = exif.tobytes()
    assert len(long_exif) > JPEG_MAX_EXIF
    rgb = smooth_photo(8, 9)
    write_photo(tmp_path / "x.jpg", rgb, exif=long_exif)
    assert read_photo(tmp_path / "x.jpg").exif is None
    write_photo(tmp_path / "x.png", rgb, exif=long_exif)  # PNG has room for it
    assert read_photo(tmp_path / "x.png").exif == long_exif


def test_a_photo_over_pillows_own_guard_is_read_under_a_higher_max_pixels(tmp_path):
    """182 megapixels, over twice Pillow's decompression-bomb threshold: --max-pixels decides, not Pillow."""
    path = save(Image.new("1", (13500, 13500)), tmp_path / "scan.png", optimize=True)
    assert read_photo(path, max_side=64, max_pixels=200_000_000).pixels.shape == (64, 64, 3)
    with pytest.raises(PhotostyleError, match="over the limit of 100,000,000; shrink it"):
        read_photo(path, max_side=64, max_pixels=100_000_000)


def swapped_profile() -> bytes:
    """An ICC display profile whose red and blue primaries are sRGB's blue and red."""

    def number(x: float) -> bytes:
        return struct.pack(">i", round(x * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + number(x) + number(y) + number(z)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    name = b"swapped\0"
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(name)) + name + b"\0" * 79),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset, table, data = 132 + 12 * len(tags), struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        data += b"\0" * (-(offset + len(data)) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", 128 + len(table) + len(data))
        + b"lcms\x02\x10\0\0mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + number(0.9642)
        + number(1.0)
        + number(0.8249)
    )
    return header.ljust(128, b"\0") + table + data


def test_an_embedded_colour_profile_is_applied_with_alpha_and_palettes_too(tmp_path):
    red = np.zeros((4, 5, 3), np.uint8)
    red[..., 0] = 200
    profile = swapped_profile()
    rgb = read_photo(save(Image.fromarray(red), tmp_path / "rgb.png", icc_profile=profile)).pixels
    assert rgb[0, 0, 2] > rgb[0, 0, 0]  # the profile's red is sRGB's blue
    rgba = Image.fromarray(red).convert("RGBA")
    palette = Image.fromarray(red).convert("P", palette=Image.Palette.ADAPTIVE)
    for name, image in [("rgba.png", rgba), ("palette.png", palette)]:
        photo = read_photo(save(image, tmp_path / name, icc_profile=profile))
        assert np.abs(photo.pixels.astype(int) - rgb).max() <= 2, name


def test_max_side_shrinks_keeping_aspect(tmp_path):
    photo = read_photo(save(Image.fromarray(smooth_photo(300, 200)), tmp_path / "big.jpg"), max_side=60)
    assert photo.rgb.shape == (60, 40, 3)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_max_side_shrinks_before_the_exif_rotation_and_still_ends_upright(tmp_path, suffix):
    image = Image.fromarray(smooth_photo(200, 300))
    exif = image.getexif()
    exif[0x0112] = 6
    photo = read_photo(save(image, tmp_path / f"rotated{suffix}", exif=exif), max_side=60)
    assert photo.rgb.shape == (60, 40, 3)


def test_animated_file_reads_its_first_frame(tmp_path):
    frames = [Image.fromarray(smooth_photo(16, 16, seed)) for seed in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    photo = read_photo(tmp_path / "anim.gif")
    assert photo.frames == 3 and photo.rgb.shape == (16, 16, 3)


BAD_FILES = {  # case: what the one line says about it
    "missing": "no such file",
    "folder": "is a folder",
    "empty": "is not an image Pillow can read",
    "text": "is not an image Pillow can read",
    "truncated_jpeg": "is truncated or corrupt",
    "truncated_png": "is truncated or corrupt",
    "too_many_pixels": "over the limit of 1,000",
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_raise_one_clear_error(tmp_path, case):
    path = tmp_path / "photo.jpg"
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not a photo")
    elif case in ("truncated_jpeg", "truncated_png"):
        path = tmp_path / ("photo.jpg" if case == "truncated_jpeg" else "photo.png")
        Image.fromarray(smooth_photo(24, 32)).save(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif case == "too_many_pixels":
        Image.fromarray(smooth_photo(30, 40)).save(path)
    with pytest.raises(PhotostyleError) as error:
        read_photo(path, max_pixels=1000)
    message = str(error.value)
    assert BAD_FILES[case] in message, message
    assert str(path) in message and "\n" not in message and ";" in message  # names the file, then the fix


def test_write_is_atomic_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    write_photo(target, np.full((4, 5, 3), 0.5, np.float32))
    before = target.read_bytes()

    def broken_save(self, stream, *args, **kwargs):
        stream.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(PhotostyleError, match=r"cannot write .*out\.png \(No space left on device\); check the folder"):
        write_photo(target, np.zeros((4, 5, 3), np.float32))
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_write_round_trips_alpha_and_permissions(tmp_path):
    rgb = smooth_photo(8, 9).astype(np.float32) / 255
    alpha = np.linspace(0, 1, 72, dtype=np.float32).reshape(8, 9)
    write_photo(tmp_path / "x.png", rgb, alpha)
    back = read_photo(tmp_path / "x.png")
    assert np.abs(back.rgb - rgb).max() < 1 / 255 and np.abs(back.alpha / 255 - alpha).max() < 1 / 255
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o666 & ~umask  # not tempfile's private 0600
    write_photo(tmp_path / "x.jpg", rgb, alpha)  # JPEG has no alpha: dropped, not an error
    assert read_photo(tmp_path / "x.jpg").alpha is None


def test_find_photos_recurses_and_keeps_folder_structure(photo_folder, tmp_path):
    (photo_folder / ".hidden.jpg").write_bytes(b"x")
    (photo_folder / "notes.txt").write_text("x")
    single = tmp_path / "single.png"
    Image.fromarray(smooth_photo(5, 5)).save(single)
    found = find_photos([photo_folder, single])
    relative = [str(r) for _, r in found]
    assert relative == [*(f"photos/{name}" for name in PHOTO_FOLDER_PHOTOS), "single.png"]
    with pytest.raises(PhotostyleError, match="no such file"):
        find_photos([tmp_path / "nope"])


def test_find_photos_searches_a_folder_as_training_does(photo_folder):
    """Hidden folders left out, a link back up followed once (the two searches once differed:
    stylize took a camera's .thumbnails/ for photos)."""
    save_photo(photo_folder / ".thumbnails" / "a.jpg", 8, 8)
    (photo_folder / "sub" / "up").symlink_to(photo_folder, target_is_directory=True)
    relative = [str(r) for _, r in find_photos([photo_folder])]
    assert relative == [f"photos/{name}" for name in PHOTO_FOLDER_PHOTOS]


def test_a_linked_folder_is_searched_under_its_real_path_whatever_the_listing_order(tmp_path):
    """Real folders are searched before links, so the link loses whichever comes first in the
    folder's listing (once the search order alone decided it)."""
    for name in "abcdefgh":
        save_photo(tmp_path / "p" / f"{name}-real" / "x.jpg", 8, 8)
        (tmp_path / "p" / f"{name}-link").symlink_to(tmp_path / "p" / f"{name}-real", target_is_directory=True)
    relative = [str(r) for _, r in find_photos([tmp_path / "p"])]
    assert relative == [f"p/{name}-real/x.jpg" for name in "abcdefgh"]


def test_the_skipped_folder_is_left_out_when_reached_through_a_link(tmp_path):
    """stylize skips its output folder inside an input folder, also through links to it or into it."""
    photos = tmp_path / "photos"
    save_photo(photos / "a.jpg", 8, 8)
    save_photo(photos / "out" / "photos" / "a.jpg", 8, 8)  # an earlier result
    (photos / "results").symlink_to(photos / "out" / "photos", target_is_directory=True)
    (photos / "b.jpg").symlink_to(photos / "out" / "photos" / "a.jpg")
    assert [str(r) for _, r in find_photos([photos], skip=photos / "out")] == ["photos/a.jpg"]
