"""The trial database's guards: which study names may become folders, which files may serve as a database."""
from __future__ import annotations

import re
import sqlite3

import optuna
import pytest

from tuning.db import DBError, TrialDB, check_db, open_db, study_name_problem


@pytest.mark.parametrize("name", ["smoke", "cnn_aug", "s1.v2-final_3", "2024-06-01", "_x", "a" * 100])
def test_plain_study_names_are_accepted(name):
    assert study_name_problem(name) is None


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", ".hidden", "..", "", "a b", "-x", "x\n", "é", "a" * 101,
                                  "/abs"])
def test_names_that_are_paths_or_hidden_are_refused(name):
    assert "is not a valid study name (use 1 to 100 of letters, digits" in study_name_problem(name)


def test_optuna_and_empty_databases_are_accepted(tmp_path):
    plain = tmp_path / "optuna.db"
    optuna.create_study(study_name="s", storage=f"sqlite:///{plain}")
    (tmp_path / "empty.db").touch()
    for path in (plain, tmp_path / "empty.db"):
        check_db(f"sqlite:///{path}")
        check_db(f"sqlite:///{path}", create=True)
    open_db(f"sqlite:///{plain}")  # our tables join Optuna's
    tables = {n for (n,) in sqlite3.connect(plain).execute("select name from sqlite_master where type='table'")}
    assert {"studies", "trials", "ganrator_studies", "ganrator_trials"} <= tables


def test_bad_sqlite_files_are_refused_in_process(tmp_path):
    TrialDB(f"sqlite:///{tmp_path / 'ok.db'}")
    check_db(f"sqlite:///{tmp_path / 'ok.db'}", create=True)
    (tmp_path / "notes.txt").write_text("not a database\n")
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("create table customers (id integer)")
    cases = {tmp_path: "is a folder", tmp_path / "notes.txt": "not a SQLite database",
             tmp_path / "other.db": "a SQLite database of another program (tables: customers)",
             tmp_path / "missing.db": "no trial database there"}
    for path, message in cases.items():
        with pytest.raises(DBError, match="^" + re.escape(f"{path}: {message}")):
            check_db(f"sqlite:///{path}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DBError, match="cannot create it: .*file is a file, not a folder"):
        open_db(f"sqlite:///{tmp_path / 'file' / 'trials.db'}")


def test_database_from_an_older_version_reads_and_gains_new_columns(tmp_path):
    """A column added since a database was made: the analysis reads it as empty, the driver adds it."""
    import sqlite3

    import planted
    from analysis import load_study
    from tuning.db import TrialDB

    path = planted.build(tmp_path / "old.db")
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE ganrator_trials DROP COLUMN calibration")
    study = load_study(path)
    assert study.trials["calibration"].isna().all() and len(study.trials) > 10
    TrialDB(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        assert "calibration" in {r[1] for r in conn.execute("PRAGMA table_info(ganrator_trials)")}


def test_an_epoch_and_its_trial_row_are_written_together_or_not_at_all(tmp_path):
    """A driver killed between the two writes used to leave an epoch row past the trial's `epochs`: one transaction
    holds both, so a write that fails half-way keeps neither."""
    import sqlalchemy as sa

    from tuning.db import TrialDB, epochs, trials

    db = TrialDB(f"sqlite:///{tmp_path / 'trials.db'}")
    db.upsert_trial("s", "t1", status="running", epochs=0)
    db.record_epoch("s", "t1", 1, {"val_acc": 0.5}, {"epochs": 1, "best_val_acc": 0.5})
    assert db.rows(trials, "s")[0]["epochs"] == 1 and [r["epoch"] for r in db.rows(epochs, "s")] == [1]
    with pytest.raises(sa.exc.SQLAlchemyError):  # the trial half fails: a column that does not exist
        db.record_epoch("s", "t1", 2, {"val_acc": 0.6}, {"epochs": 2, "no_such_column": 1})
    assert db.rows(trials, "s")[0]["epochs"] == 1 and [r["epoch"] for r in db.rows(epochs, "s")] == [1]
