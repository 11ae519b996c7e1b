"""How long the GUI thread goes without running its event loop.

:class:`StallMonitor` runs a short repeating timer on the GUI thread and records the gap between
consecutive ticks.  A responsive event loop ticks every ``interval_ms``; anything beyond that is time
the GUI thread spent on something else (a slot doing heavy work, waiting for the GIL) — the time a
user would see the window freeze.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer


class StallMonitor(QObject):
    """Records the gaps between ticks of a ``interval_ms`` timer on the thread it was created on.

    ``stall`` of a gap = gap − interval (clamped at 0).  Start it before the work to watch and stop it
    after; the figures cover the time between (several start/stop cycles accumulate until
    :meth:`reset`).
    """

    def __init__(self, interval_ms: int = 5, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        # A coarse timer may fire up to 5 % late by design, which would read as stalls that are not there.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self._origin: float | None = None
        self._gaps: list[float] = []
        self._ends: list[float] = []   # when each gap ended, seconds after the first start()

    # -- control ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._last = time.perf_counter()
        if self._origin is None:
            self._origin = self._last
        self._timer.start()

    def stop(self) -> None:
        """Stops the timer; the gap from the last tick to now counts, so a stall at the end is seen."""
        if self._timer.isActive():
            self._timer.stop()
            self._record(time.perf_counter())
        self._last = None

    def reset(self) -> None:
        self._gaps.clear()
        self._ends.clear()
        self._origin = None
        if self._timer.isActive():
            self._last = self._origin = time.perf_counter()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        self._record(time.perf_counter())

    def _record(self, now: float) -> None:
        if self._last is not None:
            self._gaps.append((now - self._last) * 1000.0)
            self._ends.append(now - self._origin)
        self._last = now

    # -- figures ----------------------------------------------------------------------------------
    @property
    def ticks(self) -> int:
        return len(self._gaps)

    def gaps_ms(self) -> np.ndarray:
        """(n,) float64: every gap between ticks in milliseconds, in order."""
        return np.asarray(self._gaps, dtype=np.float64)

    @property
    def longest_gap_ms(self) -> float:
        return float(max(self._gaps, default=0.0))

    @property
    def longest_ms(self) -> float:
        """The longest stall: the longest gap beyond the timer interval (0 when none was late)."""
        return max(0.0, self.longest_gap_ms - self.interval_ms)

    @property
    def longest_at_s(self) -> float:
        """When the longest gap ended, in seconds after start() (nan with no ticks): to line it up
        with what the app was doing then."""
        if not self._gaps:
            return float("nan")
        return self._ends[int(np.argmax(self._gaps))]

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0–100) of the gaps between ticks, in ms (0 with no ticks)."""
        if not self._gaps:
            return 0.0
        return float(np.percentile(self.gaps_ms(), q))

    def histogram(self, edges_ms: tuple[float, ...] = (10, 16, 33, 50, 100, 250, 500, 1000)) -> dict[str, int]:
        """Counts of gaps per bucket, e.g. {"<10": 950, "10–16": 20, …, "≥1000": 0}."""
        gaps = self.gaps_ms()
        counts = np.histogram(gaps, bins=[0.0, *edges_ms, np.inf])[0]
        labels = [f"<{edges_ms[0]:g}"]
        labels += [f"{a:g}–{b:g}" for a, b in zip(edges_ms[:-1], edges_ms[1:])]
        labels.append(f"≥{edges_ms[-1]:g}")
        return dict(zip(labels, (int(c) for c in counts)))

    def summary(self) -> str:
        return (
            f"{self.ticks} ticks of {self.interval_ms} ms: longest stall {self.longest_ms:.1f} ms "
            f"(ending {self.longest_at_s:.2f} s in), "
            f"gap p50 {self.percentile(50):.1f} / p99 {self.percentile(99):.1f} / max {self.longest_gap_ms:.1f} ms"
        )


__all__ = ["StallMonitor"]
