"""Reading and writing photos with Pillow and NumPy only (the stylize path never imports torch).

A photo is decoded to 8-bit (H, W, 3) RGB, a quarter of the bytes of floats, which is what
the style model takes; `Photo.rgb` gives float32 in [0, 1] where arithmetic needs it.
"""

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from photostyle.errors import PhotostyleError, first_line, permission_denied
from photostyle.files import atomic_write, write_failure

# What a folder of photos is searched for (files named explicitly may be any format Pillow reads).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# Formats written back as they came; anything else (GIF, ...) is written as PNG.
WRITABLE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}
# The largest side each format's encoder takes (libjpeg's and libwebp's own limits).
FORMAT_MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383}
# Pillow's own decompression-bomb threshold (about 89.5 megapixels).
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS
# decode_photo checks each photo's size against its max_pixels from the header, before decoding.
# Pillow's own guard, on as well, would refuse anything over twice its threshold whatever
# --max-pixels says, so it is off, for the whole process: every photo photostyle opens goes
# through decode_photo or read_photo, which check the size first.
Image.MAX_IMAGE_PIXELS = None
_EXIF_ORIENTATION = 0x0112
# The most EXIF a JPEG's APP1 marker holds; longer EXIF (a big maker note) is left out of a JPEG.
JPEG_MAX_EXIF = 65533


class ImageTooLarge(PhotostyleError):
    """A photo over the pixel limit, known from its header."""


@dataclass
class Photo:
    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    alpha: np.ndarray | None  # (H, W) uint8, or None when opaque
    exif: bytes | None  # the original EXIF with orientation reset, to carry into the output
    frames: int  # >1 for an animated file, of which only the first frame is read

    @property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) float32 in [0, 1]."""
        return to_float(self.pixels)


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert an image with an embedded colour ICC profile to sRGB; keep it as is if the profile is unusable."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK", "P", "PA"):
        return image
    if image.mode in ("P", "PA"):  # a palette's colours are in the profile's space too
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode="RGBA" if image.mode == "RGBA" else "RGB"
        )
    except Exception:  # a broken profile is not a broken photo; Pillow raises many types for it
        return image


def _exif_bytes(exif: Image.Exif) -> bytes | None:
    """The EXIF to carry into the output; None when there is none, or when a malformed tag, which
    Pillow read but cannot write back (it raises several types for it), makes it unwritable: the
    photo is fine without it."""
    if not len(exif):
        return None
    try:
        return exif.tobytes()
    except Exception:
        return None


def _pixels(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode -> uint8 RGB (H, W, 3) and alpha (H, W) or None."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit, 32-bit int or float greyscale
        values = np.asarray(image, dtype=np.float32)
        # A float TIFF may hold NaN or infinities, which clipping alone would pass on to the model.
        grey = to_uint8(
            np.nan_to_num(values / (1.0 if image.mode == "F" else 65535.0), nan=0.0, posinf=1.0, neginf=0.0)
        )
        # A PNG's transparent grey level (its tRNS chunk), the one form of transparency these modes have.
        level = image.info.get("transparency")
        transparent = values == level if isinstance(level, int) else None
        alpha = (
            np.where(transparent, 0, 255).astype(np.uint8) if transparent is not None and transparent.any() else None
        )
        return np.repeat(grey[..., None], 3, axis=2), alpha
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    wanted = "RGBA" if has_alpha else "RGB"
    array = np.asarray(image if image.mode == wanted else image.convert(wanted))  # convert() would copy an RGB image
    if has_alpha:
        alpha = array[..., 3]
        return np.ascontiguousarray(array[..., :3]), None if alpha.min() == 255 else np.ascontiguousarray(alpha)
    return array, None


def read_photo(path: Path, max_side: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode any photo file Pillow reads (see decode_photo); errors name the file and the fix."""
    path = Path(path)
    try:
        if not path.exists():
            raise PhotostyleError(f"{path}: no such file; check the path")
        if path.is_dir():
            raise PhotostyleError(f"{path} is a folder, not an image file; pass the photo's own path")
        return decode_photo(path, str(path), max_side, max_pixels)
    except PermissionError:
        raise permission_denied(path) from None
    except OSError as error:  # a name too long, a link loop, a disk error
        raise PhotostyleError(f"{path} cannot be read ({error.strerror or error}); check the path") from None


def decode_photo(
    source: Path | BinaryIO, name: str, max_side: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Photo:
    """Decode a photo from a file or stream, EXIF orientation applied, colour converted to sRGB.

    `max_side` shrinks the image (aspect kept) so its longer side is at most that many pixels.
    Raises PhotostyleError, naming `name` and the fix, for anything that is not a readable
    image or is larger than max_pixels.
    """
    try:
        with Image.open(source) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"{name} is {width}x{height} = {width * height:,} pixels, over the limit of "
                    f"{max_pixels:,}; shrink it (stylize and serve take --max-pixels to raise the limit)"
                )
            frames = getattr(image, "n_frames", 1)
            if max_side and max(width, height) > max_side:
                image.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced size, cheaply
                # Shrink before anything else copies the pixels: only the decoded image is ever full size.
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            exif = image.getexif()
            oriented = _EXIF_ORIENTATION in exif
            # Without these, exif_transpose writes the EXIF back into image.info, which fails on a
            # malformed tag; _exif_bytes writes it once, and can do without it.
            for key in ("exif", "Raw profile type exif"):
                image.info.pop(key, None)
            ImageOps.exif_transpose(image, in_place=True)  # a copy would be one more photo in memory
            pixels, alpha = _pixels(_to_srgb(image))
            if oriented:
                exif[_EXIF_ORIENTATION] = 1  # the pixels are upright now
            exif_bytes = _exif_bytes(exif)
    except (PhotostyleError, PermissionError):
        raise
    except UnidentifiedImageError:
        raise PhotostyleError(f"{name} is not an image Pillow can read; re-save it as JPEG or PNG") from None
    except MemoryError:
        raise
    # A corrupt file makes Pillow's decoders raise almost any type (TypeError, struct.error, ...).
    except Exception as error:
        reason = first_line(error)
        raise PhotostyleError(f"{name} is truncated or corrupt ({reason}); re-export the original") from None
    return Photo(pixels, alpha, exif_bytes, frames)


def output_suffix(path: Path) -> str:
    """The suffix an output for input `path` gets: the same if writable, else .png."""
    suffix = path.suffix.lower()
    return path.suffix if suffix in WRITABLE_FORMATS else ".png"


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [0, 1]."""
    return pixels.astype(np.float32) / 255.0


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 [0, 255], rounded; uint8 as it is."""
    if rgb.dtype == np.uint8:
        return rgb
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_photo(
    path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None, exif: bytes | None = None, quality: int = 95
) -> None:
    """Write atomically (temp file in the same folder, then rename): never a half-written file.

    The format follows the suffix; alpha is kept where the format has it.
    """
    path = Path(path)
    file_format = photo_format(path)
    height, width = rgb.shape[:2]
    largest = FORMAT_MAX_SIDE.get(file_format)
    if largest is not None and max(height, width) > largest:
        raise PhotostyleError(
            f"cannot write {path}: {file_format} holds at most {largest} pixels a side and"
            f" this image is {width}x{height}; write it as .png or .tiff"
        )
    try:
        with atomic_write(path) as stream:
            save_photo(stream, file_format, rgb, alpha, exif, quality)
    except OSError as error:
        if error.errno is None:  # Pillow's encoder refusing the image, not the file system
            raise PhotostyleError(f"cannot write {path} as {file_format} ({error}); write it as .png") from None
        raise write_failure(path, error) from None


def photo_format(path: Path) -> str:
    """The Pillow format a photo is written in, from its suffix; a suffix photostyle does not write is refused."""
    file_format = WRITABLE_FORMATS.get(Path(path).suffix.lower())
    if file_format is None:
        raise PhotostyleError(f"cannot write {path}: unknown image suffix; use one of {', '.join(WRITABLE_FORMATS)}")
    return file_format


def save_photo(
    stream: BinaryIO,
    file_format: str,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    exif: bytes | None = None,
    quality: int = 95,
    subsampling: str | None = None,
) -> None:
    """Encode RGB, uint8 or float in [0, 1] (and alpha, where the format has it) as a Pillow format
    name ("JPEG", "PNG", ...).

    JPEG chroma is kept whole (4:4:4) from quality 90 up unless `subsampling` says otherwise.
    """
    pixels = to_uint8(rgb)
    if alpha is not None and file_format in ALPHA_FORMATS:
        pixels = np.concatenate([pixels, to_uint8(alpha)[..., None]], axis=2)
    image = Image.fromarray(pixels)
    # Not into TIFF: a TIFF's "EXIF" from Pillow is its own first directory, whose layout tags
    # (bits per sample, sample format) would contradict the 8-bit RGB written here.
    fits = file_format != "JPEG" or len(exif or b"") <= JPEG_MAX_EXIF
    options: dict = {"exif": exif} if exif and fits and file_format in ("JPEG", "PNG", "WEBP") else {}
    if file_format in ("JPEG", "WEBP"):
        options["quality"] = quality
    if file_format == "JPEG":
        options["subsampling"] = subsampling or ("4:4:4" if quality >= 90 else "4:2:0")
    image.save(stream, format=file_format, **options)
