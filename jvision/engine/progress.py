"""Progress bars for training and evaluation: percentage, rate and an ETA that leaves out the first
step (the one that pays for Jittor's compilation), on rank 0 only.

Rendering is tqdm's (``mininterval`` 0.5 s on a terminal, 10 s in a log file); the rate and ETA are
computed here from the steps after the first, so a minute of compilation at step 1 does not make
the ETA of a ten-second evaluation read "one hour". On a terminal, Jittor's own compile progress
(written from C++ to descriptor 2) is routed around the bar by ``stderr_filter`` (see there;
``JVISION_STDERR_FILTER=0`` turns that off, ``=1`` forces it when stderr is not a terminal).
"""
from __future__ import annotations

import sys
import time
from typing import Callable

from . import stderr_filter
from .dist import is_main_process

__all__ = ["ProgressBar", "install_stderr_filter", "format_seconds"]


def format_seconds(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """``total`` steps from ``initial``; ``update()`` after each step (see the module docstring).

    ``enabled`` defaults to "this is rank 0"; a disabled bar still measures (``eta()``) but prints
    nothing. ``clock`` is injectable for tests.
    """

    def __init__(self, total: int, desc: str, initial: int = 0, unit: str = "it", enabled: bool | None = None,
                 clock: Callable[[], float] = time.perf_counter, file=None):
        self.total, self.n, self.unit = int(total), int(initial), unit
        self.clock = clock
        self._first_done: tuple[int, float] | None = None  # (n, time) after the first step
        self._postfix = ""
        self.enabled = is_main_process() if enabled is None else enabled
        self._bar = None
        if self.enabled:
            install_stderr_filter()
            from tqdm import tqdm
            stream = file or sys.stderr
            tty = hasattr(stream, "isatty") and stream.isatty()
            self._bar = tqdm(total=self.total, initial=self.n, desc=desc, unit=unit, file=stream,
                             dynamic_ncols=True, mininterval=0.5 if tty else 10.0, smoothing=0,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                        "[{elapsed}{postfix}]")

    def rate(self) -> float | None:
        """Steps per second since the end of the first step (None until a second step is done)."""
        if self._first_done is None:
            return None
        n0, t0 = self._first_done
        dt = self.clock() - t0
        return (self.n - n0) / dt if self.n > n0 and dt > 0 else None

    def eta(self) -> float | None:
        rate = self.rate()
        return None if rate is None else (self.total - self.n) / rate

    def _status(self) -> str:
        rate = self.rate()
        if rate is None:
            timing = "eta after step 1 (compiling)" if self._first_done is None else "eta ?"
        else:
            per = f"{rate:.2f} {self.unit}/s" if rate >= 1 else f"{1 / rate:.2f} s/{self.unit}"
            timing = f"eta {format_seconds(self.eta())}, {per}"
        return timing + (f", {self._postfix}" if self._postfix else "")

    def set_postfix(self, **values) -> None:
        self._postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._first_done is None:
            self._first_done = (self.n, self.clock())
        if self._bar is not None:
            self._bar.set_postfix_str(self._status(), refresh=False)
            self._bar.update(n)

    def write(self, text: str) -> None:
        """Print a line above the bar (or plainly without one)."""
        if self._bar is not None:
            self._bar.write(text, file=self._bar.fp)
        elif self.enabled:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self._status(), refresh=False)
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def install_stderr_filter() -> bool:
    """Keep Jittor's compile progress out of the bars (``stderr_filter.install``)."""
    return stderr_filter.install()
