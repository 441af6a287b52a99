"""Step 7, the cutover report: each step's times, the counts, the verify result and what to do next,
as a JSON document (``report.json``) and the same in Markdown (``report.md``), both in the state
location. Built only from the state file, so a resumed run reports every run's work. The charts
(the load's WCU/s against the budget and items/s, each replication run's lag) are drawn when their
step ends, into ``charts/<step>/`` beside their series, and the report links them.
"""

from __future__ import annotations

from typing import Any

from ddbmigrate.migrate.options import MigrateOptions
from ddbmigrate.migrate.plan import Plan
from ddbmigrate.migrate.state import STEPS, MigrationState

__all__ = ["build_report", "render_markdown", "summary_rows"]


def _replicated(state: MigrationState) -> dict[str, Any]:
    runs = state.counts.get("replicate_runs", [])
    total = {k: sum(r.get(k) or 0 for r in runs) for k in ("seen", "applied", "skipped", "superseded", "dead_lettered")}
    total["consumed_wcu"] = round(sum(r.get("consumed_wcu") or 0 for r in runs), 1)
    total["runs"] = len(runs)
    lags = [r["lag_seconds"] for r in runs if r.get("lag_seconds") is not None]
    total["lag_seconds"] = lags[-1] if lags else None
    return total


def build_report(options: MigrateOptions, state: MigrationState, plan: Plan, *, final: bool) -> dict[str, Any]:
    """The report as a JSON-able dict (keys and counts only: never item contents)."""
    steps = []
    for name in STEPS:
        record = state.steps.get(name)
        if record is None:
            continue
        steps.append({"step": name, "started": record.started, "ended": record.ended, "runs": record.runs,
                      "seconds": record.seconds()})
    load = state.counts.get("load", {})
    target_notes = state.steps.get("load").detail.get("target_finished", []) if state.steps.get("load") else []
    verify = state.steps["verify"].detail if "verify" in state.steps else {}
    ttl_held = any("TTL enabled" in note for note in target_notes)
    next_actions = ["point the application at the target table " + repr(options.target_table),
                    "stop replication: disable the Lambda's event source mapping, or stop 'replicate run'"]
    if ttl_held:
        next_actions.append("TTL was held back during the load and is now enabled: expired items copied as they "
                            "were are deleted by the target's TTL from now on")
    elif plan.schema.ttl_attribute:
        next_actions.append(f"enable TTL on {plan.schema.ttl_attribute!r} once the load has finished")
    if not final:
        next_actions.insert(0, "replication has caught up; run again with --resume --until verified to verify and report")
    return {
        "source_table": options.source_table, "target_table": options.target_table, "path": state.path,
        "reasons": list(plan.reasons), "final": final, "steps": steps,
        "created": {k: v for k, v in state.created.items() if k not in ("import_token", "charts")},
        "counts": {"exported": state.created.get("exported"), "load": load, "replicated": _replicated(state)},
        "target": target_notes, "verify": verify, "next_actions": next_actions,
        "charts": dict(state.created.get("charts", {})),
    }


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, value) rows: the CLI's rich table and the Markdown table."""
    rows = [("path", f"{report['path']} — {'; '.join(report['reasons'])}")]
    for step in report["steps"]:
        seconds = "" if step["seconds"] is None else f"{step['seconds']:.1f}s"
        runs = f" ({step['runs']} runs)" if step["runs"] > 1 else ""
        ended = step["ended"] or ("now" if step["step"] == "report" else "not finished")
        rows.append((f"step {step['step']}", f"{step['started'] or ''} → {ended} {seconds}{runs}"))
    counts = report["counts"]
    if counts.get("exported") is not None:
        rows.append(("exported", f"{counts['exported']:,} items"))
    load = counts["load"]
    if load:
        rows.append(("load", ", ".join(f"{k} {v}" for k, v in load.items())))
    r = counts["replicated"]
    rows.append(("replicated", f"applied {r['applied']:,}, skipped {r['skipped']:,}, superseded {r['superseded']:,}, "
                               f"dead-lettered {r['dead_lettered']:,} (seen {r['seen']:,}, {r['runs']} run(s), "
                               f"{r['consumed_wcu']} WCU, lag {r['lag_seconds']}s)"))
    for note in report["target"]:
        rows.append(("target", note))
    if report["verify"]:
        rows.append(("verify", str(report["verify"].get("summary"))))
    for action in report["next_actions"]:
        rows.append(("next", action))
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Migration report: {report['source_table']} → {report['target_table']}", "",
             "| what | value |", "|---|---|"]
    lines += [f"| {what} | {str(value).replace('|', '/')} |" for what, value in summary_rows(report)]
    charts = report.get("charts") or {}
    if charts:  # paths relative to the report; each folder holds the series (JSON, CSV) they were drawn from
        lines += ["", "## Charts", ""]
        for step, pngs in charts.items():
            lines += [f"![{step}: {png.rsplit('/', 1)[-1].removesuffix('.png')}]({png})" for png in pngs]
    return "\n".join(lines) + "\n"
