"""Progress reports of long loops that talk in a terminal and in a log file alike.

On a terminal a :class:`Progress` is a tqdm bar. Anywhere else (a batch job's log, a pipe)
it writes plain, flushed lines, the first at the first update and then one at least every
``every`` seconds of updates, e.g.::

    training: step 1200/5000 (24 %), train 1.234, val 1.300, elapsed 0:31, ETA 1:38

and, in both modes, one summary line when it closes.
"""

from __future__ import annotations

import math
import sys
import time

from tqdm import tqdm

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` above (seconds rounded down)."""
    seconds = int(max(seconds, 0.0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _number(value: float) -> str:
    value = float(value)
    if math.isfinite(value) and (value == 0 or 1e-3 <= abs(value) < 1e4):
        return f"{value:.3f}"
    return f"{value:.4g}"


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """A long loop's report: a tqdm bar when the stream is a terminal, else a plain line at the
    first update and then at least every ``every`` seconds (step, values, elapsed, ETA), and a
    final summary line.

    Args:
        total: steps expected (None: unknown; no percentage or ETA then).
        desc: what runs, the lines' prefix (e.g. "training").
        unit: the name of one step ("step", "row", "block"); plural: its plural (default unit + "s").
        enabled: None (auto) or True: a bar on a terminal, lines otherwise; False: silent.
        every: seconds between plain lines.
        initial: steps already done (a resumed run); the ETA counts from here.
        stream: where to write (default ``sys.stderr``).
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "step",
        plural: str | None = None,
        enabled: bool | None = None,
        every: float = 30.0,
        initial: int = 0,
        stream=None,
    ):
        self.total = None if total is None else int(total)
        self.desc, self.unit, self.every = desc, unit, float(every)
        self.plural = plural or f"{unit}s"
        self.n = self.initial = int(initial)
        self.values: dict[str, float] = {}
        self.stream = sys.stderr if stream is None else stream
        self.mode = "off" if enabled is False else "bar" if _is_terminal(self.stream) else "lines"
        self._start = time.monotonic()
        self._last_line: float | None = None
        self._closed = False
        self._bar = (
            tqdm(total=self.total, initial=self.initial, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True)
            if self.mode == "bar"
            else None
        )

    @property
    def elapsed(self) -> float:
        """Seconds since the report started."""
        return time.monotonic() - self._start

    def update(self, n: int = 1, **values: float) -> None:
        """Count ``n`` more steps; ``values`` are the latest figures to show (e.g. train=1.23)."""
        self.n += int(n)
        self.values.update({k: float(v) for k, v in values.items()})
        if self.mode == "bar":
            if values:
                self._bar.set_postfix({k: _number(v) for k, v in self.values.items()}, refresh=False)
            self._bar.update(int(n))
        elif self.mode == "lines":
            now = time.monotonic()
            if self._last_line is None or now - self._last_line >= self.every:
                self._last_line = now
                self._write(self.line())

    def line(self) -> str:
        """The current plain line (without a newline)."""
        elapsed = self.elapsed
        if self.total:
            parts = [f"{self.unit} {self.n}/{self.total} ({100 * self.n // self.total} %)"]
        else:
            parts = [f"{self.unit} {self.n}"]
        parts += [f"{k} {_number(v)}" for k, v in self.values.items()]
        parts.append(f"elapsed {format_duration(elapsed)}")
        done = self.n - self.initial
        if self.total and done > 0:
            parts.append(f"ETA {format_duration(elapsed / done * max(self.total - self.n, 0))}")
        return f"{self.desc}: " + ", ".join(parts)

    def close(self, summary: str | None = None) -> None:
        """End the report with ``summary`` (default "desc: done N steps in T"); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        if self.mode != "off":
            units = self.unit if self.n == 1 else self.plural
            self._write(summary or f"{self.desc}: done {self.n} {units} in {format_duration(self.elapsed)}")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
