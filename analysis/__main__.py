"""python -m analysis report --db runs/cnn_aug/trials.db [--name NAME] [--out reports/NAME]

A plain Optuna study (Optuna's tables, no ganrator ones) gets its own report:
python -m analysis report --db study.db --name NAME [--scientific a,b]"""
from __future__ import annotations

import argparse
import sys

from .load import AnalysisError, load_study
from .optuna_report import build_optuna_report
from .optuna_study import mark_scientific, study_names
from .report import build_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis", description="Tables, figures and the experiments report "
                                "from a ganrator trial database.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report", help="write reports/<name>/ with tables/, figures/, experiments.md and .html")
    r.add_argument("--db", required=True, help="trial database: a file path or SQLAlchemy URL")
    r.add_argument("--name", help="study name (needed when the database holds several)")
    r.add_argument("--out", help="output folder (default: reports/<name>)")
    r.add_argument("--scientific", help="plain Optuna studies: comma-separated parameters to isolate (best value "
                   "per value of each, over the others)")
    ls = sub.add_parser("list", help="list the studies in a database")
    ls.add_argument("--db", required=True)
    d = sub.add_parser("docs", help="the cross-study write-up: docs/experiments.md and its figures")
    d.add_argument("--db", action="append", required=True, help="a study database (repeat for each study)")
    d.add_argument("--system-db", action="append", default=[], help="databases of one study on different cluster "
                   "sizes, for the system-scaling table (repeat)")
    d.add_argument("--out", default="docs")
    args = p.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(study_names(args.db)))
            return 0
        if args.command == "docs":
            from .docs import write_docs

            studies = [load_study(db) for db in args.db]
            system = [load_study(db) for db in args.system_db]
            print(f"write-up written to {write_docs(studies, args.out, system)}")
            return 0
        study = load_study(args.db, args.name)
        if args.scientific is not None:
            study = mark_scientific(study, args.scientific.split(","))
    except AnalysisError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or f"reports/{study.name}"
    rep = (build_optuna_report if study.meta.get("origin") == "optuna" else build_report)(study, out)
    for w in rep.warnings:
        print(f"warning: {w}")
    print(f"report written to {rep.markdown}" + (f" and {rep.html}" if rep.html else ""))
    print(f"  {len(rep.tables)} tables in {rep.out / 'tables'}, {len(rep.figures)} figures in {rep.out / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
