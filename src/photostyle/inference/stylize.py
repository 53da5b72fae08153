"""`photostyle stylize`: photos, video clips and folders of them through an ONNX style model, written atomically."""

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from photostyle.errors import PhotostyleError
from photostyle.files import write_failure
from photostyle.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    output_suffix,
    read_photo,
    to_float,
    to_uint8,
    write_photo,
)
from photostyle.inference.runtime import StyleModel
from photostyle.inference.video import VIDEO_EXTENSIONS, FrameFunction, is_video, stylize_video, video_output_suffix
from photostyle.photo_folders import find_photos
from photostyle.settings import VIDEO_CRF, VIDEO_SMOOTHING

# (photo, stylized) -> cleaned-up stylized, each (H, W, 3) float RGB
PostProcess = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _output_suffix(source: Path) -> str:
    return video_output_suffix(source) if is_video(source) else output_suffix(source)


def plan_outputs(inputs: list[Path], output_dir: Path, overwrite: bool) -> list[tuple[Path, Path]]:
    """(photo or clip, output file) pairs, refusing collisions, overwriting inputs and (unless asked) outputs."""
    # A folder's search leaves out the output folder (earlier results): one inside it would find nothing.
    for given in inputs:
        if given.is_dir() and given.resolve().is_relative_to(output_dir.resolve()):
            raise PhotostyleError(
                f"-o {output_dir} holds the input folder {given}, whose photos would be taken for earlier"
                " results; choose an output folder outside it"
            )
    pairs = find_photos(inputs, IMAGE_EXTENSIONS + VIDEO_EXTENSIONS, skip=output_dir)
    if not pairs:
        raise PhotostyleError(
            f"no photos or videos found in {', '.join(map(str, inputs))}"
            f" (looked for {' '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)})"
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise PhotostyleError(f"output {output_dir} is a file, not a folder; pass a folder with -o")
    sources = {photo.resolve() for photo, _ in pairs}
    plan, targets = [], {}
    for photo, relative in pairs:
        target = output_dir / relative.with_suffix(_output_suffix(photo))
        if target.resolve() in sources:
            raise PhotostyleError(f"writing {target} would overwrite the input {photo}; choose another -o folder")
        if target.resolve() in targets:
            raise PhotostyleError(
                f"{photo} and {targets[target.resolve()]} would both be written to {target}; stylize them separately"
            )
        targets[target.resolve()] = photo
        plan.append((photo, target))
    existing = [target for _, target in plan if target.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise PhotostyleError(
            f"{existing[0]}{more} already exist; pass --overwrite to replace them or choose another -o folder"
        )
    return plan


def _with_post(stylize_frame: FrameFunction, post: PostProcess) -> FrameFunction:
    """stylize_frame followed by post, in uint8 frames as a clip carries them."""

    def cleaned(frame: np.ndarray) -> np.ndarray:
        return to_uint8(post(to_float(frame), to_float(stylize_frame(frame))))

    return cleaned


def _stylize_photo(
    model: StyleModel,
    photo: Path,
    target: Path,
    max_side: int | None,
    max_pixels: int,
    quality: int,
    post: PostProcess | None,
    strength: float,
) -> None:
    image = read_photo(photo, max_side=max_side, max_pixels=max_pixels)
    if image.frames > 1:
        tqdm.write(f"photostyle: note: {photo} is animated; only its first frame is stylized", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    stylized, _ = model.stylize(image.pixels, strength)
    if post is not None:
        stylized = post(image.rgb, to_float(stylized))
    write_photo(target, stylized, image.alpha, image.exif, quality)


def _stylize_clip(
    model: StyleModel,
    clip: Path,
    target: Path,
    post: PostProcess | None,
    strength: float,
    smoothing: float,
    crf: int,
) -> None:
    stylize_frame = model.clip(smoothing, strength)  # a fresh one: its look belongs to this clip
    if post is not None:
        stylize_frame = _with_post(stylize_frame, post)
    result = stylize_video(clip, target, stylize_frame, crf)  # x264 takes its threads from the cores
    if result.warning:
        tqdm.write(f"photostyle: warning: {result.warning}", file=sys.stderr)


def stylize_paths(
    model_path: Path,
    inputs: list[Path],
    output_dir: Path,
    max_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    overwrite: bool = False,
    quality: int = 95,
    threads: int | None = None,
    post: PostProcess | None = None,
    strength: float = 1.0,
    crf: int = VIDEO_CRF,
    smoothing: float = VIDEO_SMOOTHING,
) -> list[str]:
    """Stylize every photo and clip; returns one message per file that could not be done.

    `strength` blends each result with its photo (0 = the photo, 1 = the model's output).
    `post(photo, stylized)` cleans each result up (the CLI's --post passes the guided filter).
    Clips are written as H.264 at x264's `crf`; each frame keeps `smoothing` of the previous
    frame's look. `max_side`, `max_pixels` and `quality` are for photos.
    """
    model = StyleModel(model_path, threads=threads)
    plan = plan_outputs(inputs, output_dir, overwrite)
    failures = []
    for source, target in tqdm(plan, desc="stylize", unit="file"):
        try:
            if is_video(source):
                _stylize_clip(model, source, target, post, strength, smoothing, crf)
            else:
                _stylize_photo(model, source, target, max_side, max_pixels, quality, post, strength)
        except PhotostyleError as error:
            failures.append(str(error))
            tqdm.write(f"photostyle: skipped: {error}", file=sys.stderr)
        except OSError as error:  # a clip's write (a photo's is write_photo's PhotostyleError)
            failures.append(f"{target}: {error.strerror or error}")
            tqdm.write(f"photostyle: skipped: {write_failure(target, error)}", file=sys.stderr)
    return failures
