"""Test clips made from the bundled photos, for the video benchmarks: the same frames on every run.

    python -m benchmarks.clips OUT_DIR [--size 1920x1080] [--frames 120] [--fps 30]

writes static_camera.mp4 (a still photo with an object crossing it), light_change.mp4 (a still
photo whose exposure and white balance drift) and scene_cut.mp4 (the first, then a cut to
another photo). Each clip's frames also come as a generator of (H, W, 3) uint8 RGB arrays.
"""

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.basics import benchmark_parser, frame_size

DATA = Path(__file__).resolve().parent.parent / "data"
BACKGROUND = DATA / "samples" / "china.jpg"
AFTER_CUT = DATA / "samples" / "rocket.jpg"
OBJECT = DATA / "style" / "flower.jpg"  # the dahlia, cut out as the object that crosses the frame
DEFAULT_SIZE = (1920, 1080)  # (width, height)
GRAIN = 1.5  # sensor noise in 8-bit levels, fresh each frame as a camera's is
CRF = 12  # the clips are sources: well above the quality of what is made from them


def still(photo: Path, size: tuple[int, int]) -> np.ndarray:
    """The photo scaled and centre-cropped to fill size (width, height): (H, W, 3) float32 in 0..255."""
    with Image.open(photo) as image:
        image = image.convert("RGB")
        scale = max(size[0] / image.width, size[1] / image.height)
        scaled = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    left, top = (scaled.width - size[0]) // 2, (scaled.height - size[1]) // 2
    return np.asarray(scaled.crop((left, top, left + size[0], top + size[1])), np.float32)


def _cut_out(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The dahlia at the middle of OBJECT, 40% of the frame's height: (h, w, 3) pixels and an (h, w, 1) soft mask."""
    side = round(0.4 * size[1])
    with Image.open(OBJECT) as image:
        image = image.convert("RGB")
        crop = min(image.size) * 3 // 4
        left, top = (image.width - crop) // 2, (image.height - crop) // 2
        pixels = image.crop((left, top, left + crop, top + crop)).resize((side, side), Image.Resampling.LANCZOS)
    mask = Image.new("L", (side, side))
    ImageDraw.Draw(mask).ellipse((side // 10, side // 10, side - side // 10, side - side // 10), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(side / 40))  # a soft edge, as a lens draws one
    return np.asarray(pixels, np.float32), np.asarray(mask, np.float32)[..., None] / 255


def _with_grain(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = frame + rng.standard_normal(frame.shape, np.float32) * GRAIN
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def static_camera_frames(size: tuple[int, int] = DEFAULT_SIZE, frames: int = 120) -> Iterator[np.ndarray]:
    """A still photo with the dahlia crossing it from left to right, bobbing as it goes."""
    background = still(BACKGROUND, size)
    pixels, mask = _cut_out(size)
    side = pixels.shape[0]
    rng = np.random.default_rng(0)
    for i in range(frames):
        progress = i / max(frames - 1, 1)
        x = round(-side + progress * (size[0] + side))  # from just off the left edge to just off the right
        y = round((size[1] - side) / 2 + 0.1 * size[1] * np.sin(2 * np.pi * progress))
        frame = background.copy()
        left, right = max(x, 0), min(x + side, size[0])
        if left < right:
            region = frame[y : y + side, left:right]
            visible = slice(left - x, right - x)
            region += mask[:, visible] * (pixels[:, visible] - region)  # blend the object in
        yield _with_grain(frame, rng)


def light_change_frames(size: tuple[int, int] = DEFAULT_SIZE, frames: int = 120) -> Iterator[np.ndarray]:
    """A still photo under light that brightens by a stop and turns from warm to cool over the clip."""
    photo = still(AFTER_CUT, size)
    rng = np.random.default_rng(1)
    for i in range(frames):
        progress = i / max(frames - 1, 1)
        exposure = 0.7 * 2**progress  # 0.7 -> 1.4
        white_balance = np.array([1.1 - 0.2 * progress, 1.0, 0.9 + 0.2 * progress], np.float32)  # warm -> cool
        yield _with_grain(photo * (exposure * white_balance), rng)


def scene_cut_frames(
    size: tuple[int, int] = DEFAULT_SIZE, frames: int = 120, cut_at: int | None = None
) -> Iterator[np.ndarray]:
    """static_camera_frames up to frame `cut_at` (default: half way), then another photo, still."""
    cut_at = frames // 2 if cut_at is None else cut_at
    yield from (frame for frame, _ in zip(static_camera_frames(size, frames), range(cut_at)))
    after = still(AFTER_CUT, size)
    rng = np.random.default_rng(2)
    for _ in range(frames - cut_at):
        yield _with_grain(after, rng)


CLIPS = {
    "static_camera": static_camera_frames,
    "light_change": light_change_frames,
    "scene_cut": scene_cut_frames,
}


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: int = 30) -> Path:
    """(H, W, 3) uint8 RGB frames as an H.264 clip (4:2:0, x264's medium preset, CRF) at fps."""
    frames = iter(frames)
    first = next(frames)  # for the size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF)}
        for index, rgb in enumerate(itertools.chain([first], frames)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_clips(folder: Path, size: tuple[int, int] = DEFAULT_SIZE, frames: int = 120, fps: int = 30) -> list[Path]:
    """Every clip of CLIPS as folder/NAME.mp4."""
    folder.mkdir(parents=True, exist_ok=True)
    return [write_clip(folder / f"{name}.mp4", make(size, frames), fps) for name, make in CLIPS.items()]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("folder", type=Path, help="where the clips go")
    parser.add_argument("--size", type=frame_size, default="1920x1080", help="WIDTHxHEIGHT")
    parser.add_argument("--frames", type=int, default=120, help="frames of each clip")
    parser.add_argument("--fps", type=int, default=30, help="frames per second")
    args = parser.parse_args()
    for path in write_clips(args.folder, args.size, args.frames, args.fps):
        print(path)


if __name__ == "__main__":
    main()
