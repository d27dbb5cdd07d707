"""Reading and writing files: atomic writes (a reader, or a rerun after a crash, never sees half
a file), one clear error for a full disk, and one reader for the tables every command takes.

Every write goes through :func:`write_bytes`: the content is serialised in memory first, so its
size is known and a failing write can only be the file system's (torch.save, writing straight to
a file, reports a full disk as ``RuntimeError: ... unexpected pos``). A write that fails leaves
no temporary file; one that fails for lack of space raises :class:`DiskFullError` naming the
path and the bytes it needed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import torch

from gansweep.errors import USAGE, DiskFullError, InputError, is_disk_full

_UMASK = os.umask(0)
os.umask(_UMASK)


def _free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, needed: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only on success.

    On failure the temporary file is removed; a full disk becomes :class:`DiskFullError`
    (with ``needed`` bytes, where the caller knows them)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # no room even for a directory entry
        if is_disk_full(exc):
            raise DiskFullError(path, needed, _free_bytes(path.parent)) from exc
        raise
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes owner-only files; use the usual mode
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, DiskFullError) or not is_disk_full(exc):
            raise
        raise DiskFullError(path, needed, _free_bytes(path.parent)) from exc


def write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, needed=len(data)) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    write_bytes(buffer.getvalue(), path)


def write_text(text: str, path: str | os.PathLike) -> None:
    write_bytes(text.encode(), path)


def save_torch(obj: object, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(buffer.getvalue(), path)


# ---- reading what the commands are given -------------------------------------------------
def read_table(
    path: str | os.PathLike,
    required: Iterable[str] = (),
    what: str = "table",
    empty_ok: bool = False,
) -> pd.DataFrame:
    """The parquet table at ``path``, or an :class:`InputError` naming the file and what is
    wrong: missing, not parquet, or lacking one of the ``required`` columns (``what`` says
    which table it should have been). ``empty_ok``: a table without columns (a job that had
    nothing to write) passes."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"no such file (expected {_a(what)}, parquet)")
    try:
        table = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(
            path, f"not a readable parquet file ({reason}); expected {_a(what)}"
        ) from err
    check_columns(table, path, required, what, empty_ok)
    return table


def _a(what: str) -> str:
    return f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"


def check_columns(
    table: pd.DataFrame,
    path: str | os.PathLike,
    required: Iterable[str],
    what: str = "table",
    empty_ok: bool = False,
) -> None:
    """An :class:`InputError` naming ``path`` and the ``required`` columns ``table`` lacks."""
    required = list(required)
    missing = [c for c in required if c not in table.columns]
    if missing and not (empty_ok and len(table.columns) == 0):
        raise InputError(
            path,
            f"not {_a(what)}: lacks columns {', '.join(missing)} (its columns: "
            f"{', '.join(map(str, table.columns)) or 'none'}; {_a(what)} has {', '.join(required)})",
        )


def read_json(path: str | os.PathLike, what: str = "JSON file") -> object:
    """The JSON value in the file at ``path``; a missing file is bad data, a malformed one a
    usage error (the argument names the wrong file)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise InputError(path, f"no such file (expected {_a(what)})") from err
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            path, f"cannot be read as text ({err}); expected {_a(what)}", USAGE
        ) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, f"not JSON ({err}); expected {_a(what)}", USAGE) from err


def parse_json_argument(option: str, text: str, what: str) -> object:
    """The JSON value of a command-line option; malformed JSON is a usage error naming it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(option, f"not JSON ({err}): {text!r}; expected {what}", USAGE) from err
