"""The one exception type for mistakes a user can fix, and how entry points report it."""

import errno
import pickle
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class PhotostyleError(Exception):
    """An expected mistake (bad file, bad value); the message names it and the fix."""


class PhotostyleWarning(UserWarning):
    """Something skipped that the user may want to fix (a folder or photo that cannot be read);
    the commands print it as one line."""


# The most of an error's message a one-line report quotes: a decoder's message can run on.
FIRST_LINE_CHARACTERS = 200


def first_line(error: BaseException) -> str:
    """What an error says, for a one-line report: the first line of its message (an OS error's
    reason without its file name, which the report names itself), or its type's name if it says
    nothing."""
    lines = (getattr(error, "strerror", None) or str(error)).strip().splitlines()
    return lines[0][:FIRST_LINE_CHARACTERS] if lines else type(error).__name__


def permission_denied(path: object) -> PhotostyleError:
    """The refusal for a file the user may not read, whatever kind of file it is."""
    return PhotostyleError(f"{path} cannot be read (permission denied); fix its permissions")


def unreadable_reason(error: Exception) -> str:
    """Why torch.load refused a file (a checkpoint, a state dict), in a user's words: torch's own
    words tell the reader to load a file it will not unpickle unsafely, or name its zip reader's
    internals."""
    if isinstance(error, pickle.UnpicklingError):
        if "Unsupported global" in str(error):  # a pickle naming a class: it could run code
            return "it holds pickled objects other than tensors and plain data"
        return "not a torch file"
    if isinstance(error, EOFError):  # nothing to unpickle
        return "the file is empty"
    # A zip archive's index is at its end: torch's reader misses it, or seeks past the end (EINVAL).
    if "central directory" in str(error) or (isinstance(error, OSError) and error.errno == errno.EINVAL):
        return "the file is cut short or damaged; copy it again"
    return first_line(error)


def _user_error(error: BaseException | None) -> PhotostyleError | None:
    # Frameworks re-raise what our constructors raise (Hydra's instantiate wraps it in an
    # InstantiationException), so look down the chain of causes.
    while error is not None:
        if isinstance(error, PhotostyleError):
            return error
        error = error.__cause__
    return None


def _interrupted(error: BaseException | None) -> bool:
    """Whether a Ctrl-C is behind `error`: one that lands in a lazy import inside torch comes back
    as another error raised while handling it."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class _StopWhileLoading:
    """The SIGINT handler of exit_quietly_on_ctrl_c: one line and status 130."""

    def __init__(self, program: str):
        self.program = program

    def __call__(self, signum: int, frame: object) -> None:
        print(f"{self.program}: interrupted", file=sys.stderr)
        raise SystemExit(130)


def exit_quietly_on_ctrl_c(program: str) -> None:
    """For a script to call before its heavy imports: torch and Lightning take seconds to import,
    and a Ctrl-C meanwhile would print a traceback from inside them. Until exit_on_user_error's
    block begins, Ctrl-C ends the program the way it does inside it. A SIGINT the shell set to be
    ignored (a job started with & from a script) stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _StopWhileLoading(program))


@contextmanager
def exit_on_user_error(program: str) -> Iterator[None]:
    """Turn a PhotostyleError into one line on stderr and exit status 1, not a traceback.

    Ctrl-C is a choice, not a crash: one line and the shell's status for it, 130. Outputs are
    written atomically, so it leaves no half-written file.
    """
    if isinstance(signal.getsignal(signal.SIGINT), _StopWhileLoading):
        # The handler it replaced, by construction: Ctrl-C raises KeyboardInterrupt again.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if _interrupted(error):
            print(f"{program}: interrupted", file=sys.stderr)
            sys.exit(130)
        user_error = _user_error(error)
        if user_error is None:
            raise
        print(f"{program}: error: {user_error}", file=sys.stderr)
        sys.exit(1)
