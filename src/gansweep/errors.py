"""Errors that are the user's or the machine's situation, not a bug in gansweep.

The command line (``gansweep.cli.main``) prints each as one line, ``gansweep <command>: error:
<message>``, and exits with its ``exit_code``; any other exception is a bug and keeps its
traceback. This module imports nothing from gansweep, so every layer can raise these.
"""

from __future__ import annotations

import errno
import os

USAGE = 2  # a bad argument: the command line itself is wrong
BAD_DATA = 1  # the arguments are fine, a file they name is not (or the disk is full)


class GansweepError(Exception):
    """An error whose message is the whole story: no traceback needed."""

    exit_code = BAD_DATA


class InputError(GansweepError, ValueError):
    """A file or argument that cannot be used: ``where`` (a path or ``--option``) and what is
    wrong with it. ``exit_code`` is :data:`USAGE` for bad arguments, :data:`BAD_DATA` for bad
    files. A ValueError, as Python's own bad-value errors are."""

    def __init__(self, where: str | os.PathLike | None, message: str, exit_code: int = BAD_DATA):
        self.where = None if where is None else str(where)
        self.message = message
        self.exit_code = exit_code
        super().__init__(f"{self.where}: {message}" if self.where else message)


class DiskFullError(GansweepError, OSError):
    """No space left on the device while writing ``path``; ``needed`` bytes, where known.

    An OSError (errno ENOSPC), so code that handles OSError still does."""

    def __init__(self, path: str | os.PathLike, needed: int | None = None, free: int | None = None):
        self.path, self.needed, self.free = str(path), needed, free
        OSError.__init__(self, errno.ENOSPC, os.strerror(errno.ENOSPC), self.path)

    def __str__(self) -> str:
        size = f" (needed {self.needed:,} bytes" if self.needed is not None else ""
        if size and self.free is not None:
            size += f", {self.free:,} free"
        size += ")" if size else ""
        return (
            f"{self.path}: no space left on the device{size}; nothing was written there. "
            "Free some space and run the same command again: it starts where it stopped."
        )


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means that the device is full.

    torch.save reports a failed write as ``RuntimeError: ... unexpected pos``, losing the
    errno: callers serialise to memory first so that only a real OSError can reach here."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, OSError) and "No space left on device" in str(exc):
            return True  # pyarrow's OSError carries the text, not the errno
        exc = exc.__cause__ or exc.__context__
    return False
