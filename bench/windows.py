"""Consumed WCU per window, as a ratio to the budget — pure arithmetic on the proxy's timeline.

The fault proxy records the WCU it forwarded per clock second (``FaultProxy.consumed_timeline``:
``(second, WCU)`` from the first write to the last, gaps as 0). Windows are cut every ``window``
seconds from the first write. The first window (tasks starting up, the bucket's small opening
bank) and the last one (usually partial: the job ends mid-window, and its tasks finish at
different times) are excluded from the verdict; they are still shown. A sliding view (every
``window``-second span starting on any whole second) is reported too: it is stricter than fixed
windows because it can catch a burst straddling two of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    start: int
    seconds: int
    wcu: float
    counted: bool

    @property
    def rate(self) -> float:
        return self.wcu / self.seconds


@dataclass(frozen=True)
class WindowReport:
    budget: float
    windows: list[Window]
    sliding_max_ratio: float | None

    @property
    def counted(self) -> list[Window]:
        return [w for w in self.windows if w.counted]

    @property
    def max_ratio(self) -> float | None:
        counted = self.counted
        return max(w.rate for w in counted) / self.budget if counted else None

    @property
    def mean_ratio(self) -> float | None:
        counted = self.counted
        if not counted:
            return None
        return sum(w.wcu for w in counted) / sum(w.seconds for w in counted) / self.budget


def window_report(timeline: Sequence[tuple[int, float]], budget: float, window: int = 5) -> WindowReport:
    """Cut ``timeline`` into ``window``-second windows; mark the first and the last as not counted."""
    if window < 1:
        raise ValueError(f"window must be at least 1 second, got {window}")
    values = [wcu for _, wcu in timeline]
    first = timeline[0][0] if timeline else 0
    windows: list[Window] = []
    for offset in range(0, len(values), window):
        chunk = values[offset : offset + window]
        windows.append(Window(start=first + offset, seconds=len(chunk), wcu=sum(chunk), counted=True))
    if windows:
        windows[0] = Window(windows[0].start, windows[0].seconds, windows[0].wcu, counted=False)
        windows[-1] = Window(windows[-1].start, windows[-1].seconds, windows[-1].wcu, counted=False)
    # Sliding spans, skipping the same edges: from the end of the first window to the start of the last.
    inner = values[window : max(window, (len(windows) - 1) * window)]
    sliding = [sum(inner[i : i + window]) / window for i in range(len(inner) - window + 1)]
    return WindowReport(budget=budget, windows=windows, sliding_max_ratio=max(sliding) / budget if sliding else None)
