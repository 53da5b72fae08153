"""The one exception type for mistakes a user can fix, and how entry points report it."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class PhotostyleError(Exception):
    """An expected mistake (bad file, bad value); the message names it and the fix."""


def _user_error(error: BaseException | None) -> PhotostyleError | None:
    # Frameworks re-raise what our constructors raise (Hydra's instantiate wraps it in an
    # InstantiationException), so look down the chain of causes.
    while error is not None:
        if isinstance(error, PhotostyleError):
            return error
        error = error.__cause__
    return None


@contextmanager
def exit_on_user_error(program: str) -> Iterator[None]:
    """Turn a PhotostyleError into one line on stderr and exit status 1, not a traceback.

    Ctrl-C is a choice, not a crash: one line and the shell's status for it, 130. Outputs are
    written atomically, so it leaves no half-written file.
    """
    try:
        yield
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        user_error = _user_error(error)
        if user_error is None:
            raise
        print(f"{program}: error: {user_error}", file=sys.stderr)
        sys.exit(1)
