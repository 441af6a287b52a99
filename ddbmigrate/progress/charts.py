"""A run's charts for its report: WCU/s against the budget, items/s, replication lag — and their data.

The series is written beside the PNGs as ``series.json`` (the goal and every sample, enough to
draw the charts again: :func:`load_series`) and ``series.csv`` (one row per sample with the rates,
for a spreadsheet). Drawn with matplotlib's Agg backend (no display needed), imported on first
use: matplotlib is in the ``cli`` extra, never on Glue workers. ``ddbmigrate run --report DIR``
and the ``migrate`` report call :func:`write_charts`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ddbmigrate.errors import ConfigError
from ddbmigrate.progress.counters import Goal, LagPoint, Series, rate_points

__all__ = ["ChartFiles", "load_series", "write_charts"]

SERIES_JSON = "series.json"
SERIES_CSV = "series.csv"


@dataclass(frozen=True)
class ChartFiles:
    """What :func:`write_charts` wrote (``wcu``/``items`` only from samples, ``lag`` only for replication)."""

    series_json: Path
    series_csv: Path
    wcu: Path | None
    items: Path | None
    lag: Path | None = None

    def charts(self) -> list[Path]:
        """The PNGs written, in the order a report shows them."""
        return [p for p in (self.wcu, self.items, self.lag) if p is not None]


def write_charts(series: Series, goal: Goal, folder: str | Path, *, title: str = "",
                 lag: Sequence[LagPoint] = ()) -> ChartFiles:
    """Write the series (JSON, CSV) and the PNG charts into ``folder`` (created); return their paths."""
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--report {out}: cannot create the report folder ({exc.strerror})") from None
    rates = rate_points(series.samples)
    series_json = out / SERIES_JSON
    series_json.write_text(json.dumps({"title": title, "goal": asdict(goal), "samples": series.rows(),
                                       "lag": [asdict(p) for p in lag]}, indent=1), encoding="utf-8")
    series_csv = out / SERIES_CSV
    by_time = {p.at: p for p in rates}
    with series_csv.open("w", newline="", encoding="utf-8") as handle:
        rows = series.rows()
        writer = csv.DictWriter(handle, fieldnames=[*(rows[0] if rows else {"at": 0}), "items_per_second", "wcu_per_second"])
        writer.writeheader()
        for sample, row in zip(series.samples, rows, strict=True):
            point = by_time.get(sample.at)
            writer.writerow({**row, "items_per_second": round(point.items_per_second, 3) if point else "",
                             "wcu_per_second": round(point.wcu_per_second, 3) if point else ""})
    plt = _pyplot()
    minutes = [p.at / 60.0 for p in rates]
    wcu = items = None
    if series.samples:  # a replication run has a lag and no writing tasks' samples
        wcu = _chart(plt, out / "wcu.png", f"{title} consumed write capacity".strip(), "WCU/s", minutes,
                     [p.wcu_per_second for p in rates], "consumed WCU/s", budget=goal.budget_wcu)
        items = _chart(plt, out / "items.png", f"{title} items written".strip(), "items/s", minutes,
                       [p.items_per_second for p in rates], "items/s (written + dead-lettered)")
    lag_png = None
    if lag:
        lag_png = _chart(plt, out / "lag.png", f"{title} replication lag".strip(), "seconds",
                         [p.at / 60.0 for p in lag], [p.seconds for p in lag], "lag")
    return ChartFiles(series_json, series_csv, wcu, items, lag_png)


def load_series(folder: str | Path) -> tuple[Series, Goal, list[LagPoint], str]:
    """A recorded ``series.json`` back: (series, goal, lag, title) — to draw the charts again."""
    path = Path(folder) / SERIES_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read a recorded series ({exc})") from None
    goal = Goal(**{k: data.get("goal", {}).get(k) for k in ("total_items", "budget_wcu", "budget_rcu")})
    lag = [LagPoint(float(p["at"]), float(p["seconds"])) for p in data.get("lag", [])]
    return Series.from_rows(data.get("samples", [])), goal, lag, str(data.get("title", ""))


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("charts need matplotlib: pip install 'ddbmigrate[cli]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _chart(plt: Any, path: Path, title: str, unit: str, x: list[float], y: list[float], label: str, *,
           budget: float | None = None) -> Path:
    figure, axes = plt.subplots(figsize=(8, 3.5), dpi=100)
    try:
        axes.plot(x, y, label=label, linewidth=1.5)
        if budget:
            axes.axhline(budget, color="tab:red", linestyle="--", linewidth=1, label=f"budget {budget:,.0f} WCU/s")
        axes.set_title(title)
        axes.set_xlabel("minutes since start")
        axes.set_ylabel(unit)
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best")
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path
