"""Atomic file output: a reader never sees a half-written file, and a crash leaves none behind."""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from photostyle.errors import PhotostyleError, first_line


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Yield a stream to a hidden temporary file beside `path`, renamed onto it on success.

    The file gets the usual permissions (0666 minus the umask), unlike tempfile's 0600.
    """
    path = Path(path)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_failure(
    path: Path, error: OSError, fix: str = "check the folder permissions and free space"
) -> PhotostyleError:
    """The one line for an output that the file system refused (a full disk, a missing folder, no
    permission), ending with `fix`."""
    if isinstance(error, FileExistsError | NotADirectoryError):
        below = Path(error.filename or path)
        in_the_way = next((p for p in [below, *below.parents] if p.exists() and not p.is_dir()), None)
        if in_the_way:
            return PhotostyleError(f"cannot write {path}: {in_the_way} is a file, where a folder should be")
    return PhotostyleError(f"cannot write {path} ({first_line(error)}); {fix}")


def write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, making missing folders; a refusal of the file system is one line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as stream:
            stream.write(data)
    except OSError as error:
        raise write_failure(path, error) from None


def check_output_file(path: Path, overwrite: bool, option: str = "-o ", overwrite_option: str = "--overwrite") -> None:
    """Refuse, before any work, an output file that must not or cannot be written: a folder, a file
    already there without `overwrite`, or a place whose nearest existing folder is not writable.
    Folders missing on the way are made when it is written. `option` is how the command is given
    the output ("-o " or "out=")."""
    choose = f"choose another {option.strip()}"
    if path.is_dir():
        raise PhotostyleError(f"{option}{path} is a folder; name the file to write in it")
    if path.exists() and not overwrite:
        raise PhotostyleError(f"{path} already exists; pass {overwrite_option} to replace it or {choose}")
    if problem := unwritable_reason(path.absolute().parent):
        raise PhotostyleError(f"cannot write {path}: {problem}; {choose}")


def unwritable_reason(folder: Path) -> str:
    """Why `folder` (absolute) cannot be made or written in ("" when it can), judged by the nearest
    part of it that exists; nothing is made here."""
    nearest = next(path for path in [folder, *folder.parents] if path.exists() or path == path.parent)
    if nearest.exists() and not nearest.is_dir():
        return f"{nearest} is a file"
    if not os.access(nearest, os.W_OK | os.X_OK):
        return f"{nearest} is not a writable folder"
    return ""
