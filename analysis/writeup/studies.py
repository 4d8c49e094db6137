"""docs/studies.md: each planned study's plan, progress, and each part's measured time and CPU, from its database."""
from __future__ import annotations

import datetime
from pathlib import Path

import jinja2
import sqlalchemy as sa

from tuning.db import make_engine, plan_parts, plans
from tuning.plan import Plan
from tuning.retrain import duration

from ..present.words import TEMPLATES
from ..stats.curves import decisions, load_plan_runs



def _utc(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def _rows(url: str, table: sa.Table, study: str) -> list[dict]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table).where(table.c.study == study)).mappings()]
    finally:
        engine.dispose()


def studies_markdown(plan: Plan, url: str, shown_db: str, command: str) -> str:
    runs = load_plan_runs(url, plan.name)
    state = decisions(plan, runs)
    recorded = sorted(_rows(url, plans, plan.name), key=lambda r: r["first_run_at"] or 0)
    parts = sorted(_rows(url, plan_parts, plan.name), key=lambda r: r["part"])
    for p in parts:
        p["wall"] = duration((p["ended_at"] or p["started_at"]) - p["started_at"])
        p["runs_done"] = p["runs_done"] or 0
        p["busy"] = duration(p["busy_seconds"] or 0)
        p["status"] = p["status"] or "—"
    points = []
    for (arm, size), pt in sorted(state.points.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        seeds = f"{len(pt.runs)} of {len(pt.seeds)}" if pt.seeds else "—"
        points.append({"arm": arm, "size": size, "length": pt.length_text or "—", "choice": pt.choice_text,
                       "seeds": seeds})
    completed = runs[runs["status"] == "completed"] if len(runs) else runs
    cpu = {}
    if len(completed):
        for family, seconds in completed.groupby("family")["cpu_seconds"].sum().items():
            cpu[family] = duration(seconds)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=False)
    env.filters["utc"] = _utc
    total = sum(((p["ended_at"] or p["started_at"]) - p["started_at"]) for p in parts)
    return env.get_template("studies.md.j2").render(
        plan=plan, plan_file=plan.path.as_posix(), db=shown_db, command=command,
        first=recorded[0] if recorded else None, amendments=recorded[1:], done=len(completed),
        errored=int((runs["status"] == "errored").sum()) if len(runs) else 0, left=len(state.jobs),
        complete=not state.jobs, points=points, parts=parts, total_wall=duration(total), cpu=cpu,
        continue_command=f"python -m tuning.study --plan {plan.path.as_posix()} --hours 2.5")
