"""Which photos a run trains and validates on: the photos data.root names (a folder, a glob
pattern or a list file), and their fixed validation split."""

import glob
import hashlib
import os
from pathlib import Path

from photostyle.errors import PhotostyleError
from photostyle.images import IMAGE_EXTENSIONS
from photostyle.photo_folders import list_photos

GLOB_CHARACTERS = "*?["


def is_glob(source: str) -> bool:
    return any(character in source for character in GLOB_CHARACTERS)


def find_training_photos(source: str) -> list[Path]:
    """The photos data.root names: a folder (searched recursively), a glob pattern
    (`photos/**/*.jpg`) or a text file listing one photo per line (relative to the file's
    folder; # starts a comment line). Listed photos are not checked here: a missing or
    corrupt one is skipped when a worker fails to read it.
    """
    path = Path(source)
    if path.is_dir():
        return list_photos(path)
    if is_glob(source):
        return sorted(Path(p) for p in glob.glob(source, recursive=True) if os.path.isfile(p))
    if path.is_file():
        with path.open("rb") as file:
            head = file.read(4096)
        if path.suffix.lower() in IMAGE_EXTENSIONS or b"\0" in head:  # not a list of names
            raise PhotostyleError(
                f"data.root={source} is a photo or other binary file, not a folder of photos or a text file"
                " listing them; point it at the folder that holds your photos"
            )
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
        return [path.parent / line for line in lines if line and not line.startswith("#")]
    raise PhotostyleError(
        f"data.root={source} is neither a folder, a glob pattern nor a list file; point it at your photos"
    )


def source_folder(source: str) -> Path:
    """The folder data.root's photos are named below, which keys their validation split."""
    path = Path(source)
    if path.is_dir():
        return path
    if is_glob(source):
        parts = path.parts
        fixed = next(i for i, part in enumerate(parts) if is_glob(part))
        return Path(*parts[:fixed]) if fixed else Path(".")
    return path.parent


def split_photos(photos: list[Path], root: Path, val_fraction: float) -> tuple[list[Path], list[Path]]:
    """(train, val): val is the val_fraction of the photos (at least one) whose relative paths
    hash lowest, so the split is the same on every run and machine. Photos added to the folder
    move an old one into val only if they raise the count, and out of it only if they hash lower."""

    def key(path: Path) -> str:
        name = path.relative_to(root) if path.is_relative_to(root) else path
        return hashlib.sha1(name.as_posix().encode()).hexdigest()

    by_hash = sorted(photos, key=key)
    count = max(1, round(val_fraction * len(photos))) if len(photos) > 1 and val_fraction > 0 else 0
    return sorted(by_hash[count:]), sorted(by_hash[:count])
