"""Reading resumable training checkpoints, and what to do with one that cannot be read.

Checkpoints are written atomically (gansweep.io.save_torch), but a disk that fills up, a
copy interrupted by hand or a faulty filesystem can still leave a truncated or garbled file.
Failing on it would fail the job on every rerun, so an unreadable checkpoint is moved aside
(kept for inspection, out of the way of the next save) and the job starts again from step 0.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import torch


def move_aside(path: Path) -> Path:
    """Rename ``path`` to ``<path>.corrupt`` (``.corrupt.1``, ``.2``, … if that is taken)."""
    target = path.with_name(path.name + ".corrupt")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt.{n}")
    os.replace(path, target)
    return target


def load_checkpoint(
    path: Path, device: torch.device | str, required: Iterable[str], log=sys.stderr
) -> dict | None:
    """The checkpoint at ``path`` as a dict, or None when there is none to resume from.

    A file that torch cannot load, that is not a dict, or that lacks one of the ``required``
    keys is unreadable: it is moved aside to ``*.corrupt``, a log line names both files and the
    reason, and None is returned so that the caller starts from scratch."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
        if not isinstance(state, dict):
            raise ValueError(f"it holds a {type(state).__name__}, not a checkpoint dict")
        missing = sorted(set(required) - state.keys())
        if missing:
            raise ValueError(f"it lacks {', '.join(missing)}")
    except Exception as exc:  # truncated zip, bad pickle, wrong content: all mean unreadable
        aside = move_aside(path)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        print(
            f"checkpoint {path} is unreadable ({reason}); moved it to {aside} and restarting "
            "this job from step 0",
            file=log,
            flush=True,
        )
        return None
    return state
