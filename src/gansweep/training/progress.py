"""Training progress: a live tqdm bar on a terminal, plain periodic lines in a log file.

A training job's stderr is a terminal when someone runs ``gansweep train-*`` by hand and a
log file under Snakemake. A redrawn bar (carriage returns) would turn a log file into one
unreadable line, so off a terminal the same tqdm meter is printed as one line every
``every`` steps, and always at the last step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm import tqdm

# Plain lines: the meter without the bar, which means nothing in a file that is read later.
PLAIN_FORMAT = "{desc} step {n_fmt}/{total_fmt} ({percentage:.0f}%) [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class TrainingProgress:
    """Progress of one training loop over steps ``initial .. total`` (``initial`` > 0 after a
    resume). Call ``update(step, postfix)`` after every step; ``write`` for other messages,
    so that they do not break the bar; ``close`` at the end.

    ``postfix`` maps names to values shown after the rate; values may be callables: they are only evaluated when shown, so a value that
    costs a device sync (a loss, a count of diverged runs) is not computed at every step."""

    def __init__(
        self,
        label: str,
        total: int,
        initial: int = 0,
        every: int = 100,
        stream=None,
        unit: str = "step",
    ):
        self.label, self.total, self.every, self.unit = label, total, max(int(every), 1), unit
        self.stream = sys.stderr if stream is None else stream
        self.live = is_terminal(self.stream)
        self.initial = initial
        self.t0 = time.perf_counter()
        self.bar = None
        if self.live:
            self.bar = tqdm(
                total=total,
                initial=initial,
                desc=label,
                unit=unit,
                file=self.stream,
                dynamic_ncols=True,
                mininterval=0.5,
                smoothing=0.1,
            )
        self._last_postfix_refresh = 0.0

    @staticmethod
    def _postfix(values: dict[str, object]) -> str:
        parts = []
        for key, value in values.items():
            value = value() if callable(value) else value
            parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
        return ", ".join(parts)

    def update(
        self, step: int, postfix: dict[str, object | Callable[[], object]] | None = None
    ) -> None:
        postfix = postfix or {}
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            now = time.perf_counter()
            # Postfix values may cost a sync; refresh them at the bar's own redraw rate.
            if postfix and (
                now - self._last_postfix_refresh >= self.bar.mininterval or step >= self.total
            ):
                self.bar.set_postfix_str(self._postfix(postfix), refresh=False)
                self._last_postfix_refresh = now
            return
        if step % self.every and step < self.total:
            return
        line = tqdm.format_meter(
            step,
            self.total,
            time.perf_counter() - self.t0,
            prefix=self.label,
            unit=self.unit,
            initial=self.initial,
            postfix=self._postfix(postfix) or None,
            bar_format=PLAIN_FORMAT,
        )
        print(line, file=self.stream, flush=True)

    def write(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> TrainingProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
