"""Progress of long commands: a tqdm bar on a terminal, plain lines in logs, or nothing.

``Progress(total, desc)`` with ``enabled=None`` (the default) draws a tqdm bar when the
stream is a terminal and otherwise writes a plain line at most every ``every`` seconds
(count, share, elapsed time, ETA and the latest ``values``), and a final line on close;
``enabled=False`` is silent, ``True`` writes plain lines even to a terminal's stream.
"""
from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts ``total`` units of work (None: unknown) named ``desc``; also a context manager.

    ``unit`` names what is counted, as printed after the count ("step", "spectra").
    """

    def __init__(self, total: int | None, desc: str, *, unit: str = "step", enabled: bool | None = None,
                 every: float = 30.0, initial: int = 0, stream=None):
        self.total, self.desc, self.unit, self.every = total, desc, unit, float(every)
        self.count, self.values = int(initial), {}
        self.stream = sys.stderr if stream is None else stream
        self._start = self._last = time.monotonic()
        self._initial = int(initial)
        self._bar = None
        self.enabled = enabled is not False
        if enabled is None and getattr(self.stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream)

    def update(self, n: int = 1, **values: float) -> None:
        """Count ``n`` more units; ``values`` (e.g. loss=...) are shown with the next line."""
        self.count += int(n)
        self.values.update(values)
        if self._bar is not None:
            if values:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            self._bar.update(n)
        elif self.enabled and time.monotonic() - self._last >= self.every:
            self._write(self._line())

    def close(self, summary: str | None = None) -> None:
        """End the bar or write the final line (``summary`` appended)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            if summary:
                self._write(f"{self.desc}: {summary}")
        elif self.enabled:
            self._write(self._line(final=True) + (f"; {summary}" if summary else ""))
        self.enabled = False

    def _line(self, final: bool = False) -> str:
        elapsed = time.monotonic() - self._start
        share = f"/{self.total} ({100 * self.count / self.total:.0f} %)" if self.total else ""
        line = f"{self.desc}: {self.count}{share} {self.unit}, {_clock(elapsed)} elapsed"
        done = self.count - self._initial
        if not final and self.total and done > 0:
            line += f", ETA {_clock(elapsed / done * (self.total - self.count))}"
        if self.values:
            line += ", " + ", ".join(f"{k} {v:.4g}" for k, v in self.values.items())
        return line

    def _write(self, line: str) -> None:
        self._last = time.monotonic()
        print(line, file=self.stream, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
