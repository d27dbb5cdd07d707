"""Progress of long feature passes (reference statistics, FID): a tqdm bar with rate and ETA in
a terminal; in a log file (not a TTY) the same numbers as a plain line every ``LOG_EVERY_S``."""

from __future__ import annotations

import sys
from typing import IO

from tqdm.auto import tqdm

LOG_EVERY_S = 30.0
_LOG_FORMAT = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f} %), {rate_fmt}, elapsed {elapsed}, ETA {remaining}"


class _Lines:
    """A file for tqdm that turns each redraw (``\\r`` + status) into one line of its own."""

    def __init__(self, stream: IO[str], prefix: str):
        self.stream, self.prefix, self._last = stream, prefix, None

    def write(self, text: str) -> None:
        for line in text.replace("\r", "\n").split("\n"):
            line = line.strip()
            if line and line != self._last:  # tqdm redraws the final state when it closes
                self._last = line
                self.stream.write(f"{self.prefix}{line}\n")

    def flush(self) -> None:
        self.stream.flush()


def progress(
    total: int,
    desc: str,
    unit: str = "img",
    stream: IO[str] | None = None,
    every_s: float | None = None,
    prefix: str = "[gansweep] ",
) -> tqdm:
    """A tqdm bar over ``total`` items on ``stream`` (stderr): redrawn in a terminal, else a plain
    line (done, share, rate, elapsed, ETA) at most every ``every_s`` seconds and at the end."""
    stream = sys.stderr if stream is None else stream
    if getattr(stream, "isatty", lambda: False)():
        return tqdm(
            total=total, desc=desc, unit=unit, unit_scale=True, file=stream, dynamic_ncols=True
        )
    every = LOG_EVERY_S if every_s is None else every_s
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=_Lines(stream, prefix),
        mininterval=every,
        miniters=1,
        bar_format=_LOG_FORMAT,
        ascii=True,
    )
