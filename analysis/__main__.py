"""python -m analysis report --db runs/cnn_aug/trials.db [--name NAME] [--out reports/NAME]

A plain Optuna study (Optuna's tables, no ganrator ones) gets its own report:
python -m analysis report --db study.db --name NAME [--scientific a,b]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuning.db import DBError, check_db, db_url, redact, study_name_problem

from .load import AnalysisError, load_study
from .load.optuna_study import mark_scientific, study_names


def _bad_database(args: argparse.Namespace) -> str | None:
    """The one-line error for the first database argument that cannot be read as a trial database, or None."""
    given = [("--db", d) for d in (args.db if isinstance(args.db, list) else [args.db])]
    given += [("--system-db", d) for d in getattr(args, "system_db", [])]
    for flag, db in given:
        try:
            check_db(db_url(db, Path()))
        except DBError as e:
            return f"error: {flag} {e}"
    return None


def _bad_name(study, flag: str, db: str) -> str | None:
    """Study names from a database become folder and file names: one that is a path must not leave reports/."""
    if problem := study_name_problem(study.name):
        return f"error: {flag} {redact(db)}: its study name cannot name files: {problem}"
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis", description="Tables, figures and the experiments report "
                                "from a ganrator trial database.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report", help="write reports/<name>/ with tables/, figures/, experiments.md, .html and .tex")
    r.add_argument("--db", required=True, help="trial database: a file path or SQLAlchemy URL")
    r.add_argument("--name", help="study name (needed when the database holds several)")
    r.add_argument("--out", help="output folder (default: reports/<name>)")
    r.add_argument("--scientific", help="plain Optuna studies: comma-separated parameters to isolate (best value "
                   "per value of each, over the others)")
    ls = sub.add_parser("list", help="list the studies in a database")
    ls.add_argument("--db", required=True)
    d = sub.add_parser("docs", help="the cross-study write-up: docs/experiments.md, .html and .tex, tables/ and "
                       "figures/")
    d.add_argument("--db", action="append", required=True, help="a study database (repeat for each study)")
    d.add_argument("--system-db", action="append", default=[], help="databases of one study on different cluster "
                   "sizes, for the system-scaling table (repeat)")
    d.add_argument("--out", default="docs")
    st = sub.add_parser("study", help="a planned study's write-up: docs/experiments.md (+ .html, .tex, "
                        "tables/, figures/) and docs/studies.md (plan, progress, parts)")
    st.add_argument("--plan", required=True, help="the plan file (results/plan.yaml)")
    st.add_argument("--db", help="its database (default: results/<plan name>.db beside the plan)")
    st.add_argument("--out", default="docs")
    args = p.parse_args(argv)
    if args.command == "study":
        return _study(args)
    if message := _bad_database(args):
        print(message, file=sys.stderr)
        return 2
    try:
        if args.command == "list":
            print("\n".join(study_names(args.db)))
            return 0
        if args.command == "docs":
            studies = [load_study(db) for db in args.db]
            system = [load_study(db) for db in args.system_db]
            for flag, dbs, loaded in (("--db", args.db, studies), ("--system-db", args.system_db, system)):
                for db, s in zip(dbs, loaded):  # the write-up names figure files after each study
                    if message := _bad_name(s, flag, db):
                        print(message + "; rename the study in its database", file=sys.stderr)
                        return 2
            from .writeup.docs import write_docs  # plotting imports: seconds, not paid on bad input

            print(f"write-up written to {write_docs(studies, args.out, system)}")
            return 0
        study = load_study(args.db, args.name)
        if args.scientific is not None:
            study = mark_scientific(study, args.scientific.split(","))
    except AnalysisError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.out is None and (message := _bad_name(study, "--db", args.db)):
        print(message + "; pass --out to choose the report folder", file=sys.stderr)
        return 2
    # Seconds of plotting imports, not paid by `list` or a bad argument.
    if study.meta.get("origin") == "optuna":  # a plain Optuna study: its own, smaller report
        from .writeup.optuna_report import build_optuna_report as build
    else:
        from .writeup.report import build_report as build
    rep = build(study, args.out or f"reports/{study.name}")
    for w in rep.warnings:
        print(f"warning: {w}")
    print(f"report written to {rep.markdown}" + (f", {rep.html}" if rep.html else "") +
          (f" and {rep.tex}" if rep.tex else ""))
    print(f"  {len(rep.tables)} tables in {rep.out / 'tables'}, {len(rep.figures)} figures in {rep.out / 'figures'}")
    return 0


def _study(args: argparse.Namespace) -> int:
    from tuning.plan import PlanError, load_plan

    try:
        plan = load_plan(args.plan)
    except PlanError as e:
        print(f"error: --plan {e}", file=sys.stderr)
        return 2
    db = Path(args.db) if args.db else plan.path.parent / f"{plan.name}.db"
    if not db.is_file():
        print(f"error: --db {db}: no such database; run `python -m tuning.study --plan {args.plan}` first",
              file=sys.stderr)
        return 2
    from .writeup.studies import studies_markdown

    out = Path(args.out) / "studies.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    shown = db.as_posix()
    command = f"python -m analysis study --plan {plan.path.as_posix()}" + (f" --db {shown}" if args.db else "")
    url = db_url(str(db), db)
    out.write_text(studies_markdown(plan, url, shown, command))
    from .load.history import HistoryError, load_history
    from .writeup.plan_doc import write_plan_docs

    history_file = plan.path.parent / "history.yaml"
    try:
        history = load_history(history_file) if history_file.is_file() else None
    except HistoryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    doc = write_plan_docs(plan, url, args.out, history, shown, command)
    print(f"write-up written to {doc} (with .html, .tex and tables/); the study's page to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
