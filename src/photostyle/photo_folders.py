"""Finding the photos in folders: one search for training's photo folder and for the folders
the commands are given, so that both take the same files."""

import os
import warnings
from pathlib import Path

from photostyle.errors import PhotostyleError, PhotostyleWarning, first_line
from photostyle.images import IMAGE_EXTENSIONS


def list_photos(root: Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS, skip: Path | None = None) -> list[Path]:
    """Every file with `extensions` below root, in a stable order: recursive, hidden files and
    folders left out, and whatever lies below the folder `skip`.

    Links are followed, but a folder reached twice is searched once, under its real path when
    that is below root (real folders are searched before linked ones). Names only: nothing is
    opened here. os.scandir gives each entry's type with its name, so 100k files cost one pass
    over the folders and a stat call per folder, not per file.
    """
    skipped = skip.resolve() if skip is not None else None
    found, folders, linked, seen = [], [Path(root)], [], set()
    while folders or linked:
        if not folders:
            linked.sort(reverse=True)  # the smallest path next: which of two links to one folder wins is fixed
        folder = folders.pop() if folders else linked.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:  # a link back to a folder above it, or one reached twice
                continue
            seen.add((info.st_dev, info.st_ino))
            if skipped is not None and folder.resolve().is_relative_to(skipped):
                continue
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not entry.name.startswith("."):
                        _file_entry(entry, extensions, skipped, folders, linked, found)
        except OSError as error:  # an unreadable folder costs its photos, not the whole search
            warnings.warn(f"skipping folder {folder}: {first_line(error)}", PhotostyleWarning, stacklevel=1)
    return sorted(found)


def _file_entry(
    entry: os.DirEntry,
    extensions: tuple[str, ...],
    skipped: Path | None,
    folders: list[Path],
    linked: list[Path],
    found: list[Path],
) -> None:
    """A folder entry onto `folders` (or `linked`, for a link) or, as a photo, onto `found`; one
    that cannot be told (a link to itself) is skipped alone."""
    try:
        if entry.is_dir():
            (linked if entry.is_symlink() else folders).append(Path(entry.path))
        elif os.path.splitext(entry.name)[1].lower() in extensions and entry.is_file():
            if not (skipped and entry.is_symlink() and Path(entry.path).resolve().is_relative_to(skipped)):
                found.append(Path(entry.path))
    except OSError as error:
        warnings.warn(f"skipping {entry.path}: {first_line(error)}", PhotostyleWarning, stacklevel=1)


def find_photos(
    inputs: list[Path], extensions: tuple[str, ...] = IMAGE_EXTENSIONS, skip: Path | None = None
) -> list[tuple[Path, Path]]:
    """Expand files and folders (searched by list_photos) into (photo, relative output path) pairs.

    A file keeps its name; a folder's photos keep their path below the folder's own name,
    so two folders with same-named files never collide. A folder's search leaves out the folder
    `skip`: stylize's output folder, inside an input folder, holds earlier results.
    """
    found = []
    for given in map(Path, inputs):
        if given.is_dir():
            folder_name = Path(given.resolve().name)
            found += [(p, folder_name / p.relative_to(given)) for p in list_photos(given, extensions, skip)]
        elif given.exists():
            found.append((given, Path(given.name)))
        else:
            raise PhotostyleError(f"{given}: no such file or folder; check the path")
    return found
