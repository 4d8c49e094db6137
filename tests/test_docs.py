"""The cross-study write-up is generated from databases, cites literature apart, links only real files, types no
number, shows no machine path and never mixes budgets in one table."""
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import planted
import pytest

from analysis.writeup.docs import write_docs
from analysis.load import load_study
from tuning.command import portable_command
from tuning.db import TrialDB

ROOT = Path(__file__).resolve().parents[1]


def test_docs_from_databases(smoke_study, tmp_path):
    db, _ = smoke_study
    other = planted.build(tmp_path / "planted.db")
    out = subprocess.run([sys.executable, "-m", "analysis", "docs", "--db", str(db), "--db", str(other),
                          "--system-db", str(db), "--system-db", str(other), "--out", str(tmp_path / "docs")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "docs" / "experiments.md").read_text()
    # the findings first, the methods once, a section per study question, then the appendix
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[:5] == ["## Findings", "## Methods", "## 1. Classical or deep, on all the data",
                            "## 2. Does augmentation help?", "## 3. Accuracy against training-set size"], headings
    assert headings[-1] == "## Appendix" and "#### System scaling: data fraction" in text
    assert "#### Reference results from the literature" in text and "(not ours)" in text and "Zhong et al. 2017" in text
    # the write-up in LaTeX too, each of its tables a file of its own
    tex = (tmp_path / "docs" / "experiments.tex").read_text()
    inputs = re.findall(r"\\input\{tables/([^}]+)\}", tex)
    assert inputs and all((tmp_path / "docs" / "tables" / f"{stem}.tex").is_file() for stem in inputs)
    assert "`smoke`: space `smoke`, budget `smoke`" in text and "tuning/run.py --space smoke" in text
    # the fixture ran `python /abs/tuning/run.py ... --storage-path /tmp/...`: stored relative to the repository
    stored = TrialDB(f"sqlite:///{db}").study("smoke")["command"]
    assert stored.startswith("python tuning/run.py --space smoke") and "/tmp/" not in stored, stored
    for ref in re.findall(r"\]\(([^)]+)\)", text):
        assert (tmp_path / "docs" / ref).is_file()
    # how a study's search-based ablation rows read is said once, then each table names only its slice
    assert text.count("Each row: the best validation accuracy") == 2  # once per study with ablation tables
    assert text.count("Rows read as in the first table of") >= 1
    for png in (tmp_path / "docs" / "figures").glob("*.png"):
        assert png.stat().st_size < 300_000
    # written again with one study fewer: that study's figures go, the other's stay
    again = subprocess.run([sys.executable, "-m", "analysis", "docs", "--db", str(other), "--out",
                            str(tmp_path / "docs")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    left = {p.name for p in (tmp_path / "docs" / "figures").glob("*.png")}
    assert left and not any(name.startswith("smoke_") for name in left), left
    assert left == set(re.findall(r"\(figures/([^)]+\.png)\)", (tmp_path / "docs" / "experiments.md").read_text()))


def test_docs_bad_database_is_one_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "analysis", "docs", "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: --db {tmp_path / 'x.db'}: no trial database there")


# ------------------------------------------------------------------ small planted databases, no training

# Every stored accuracy goes through this map: monotone (validation picks the same rows and trials), with no fixed
# point in [0, 1], so every accuracy the docs print must change; a number typed into the docs would not.
PERTURB = "{col} = {col} * 0.5 + 0.01"
PERTURBED = {"ganrator_trials": ("best_val_acc", "last_val_acc", "test_acc"), "ganrator_epochs": ("val_acc",),
             "ganrator_final_evals": ("val_acc", "test_acc", "train_acc"),
             "ganrator_confirm_runs": ("val_acc", "test_acc", "train_acc")}


def _planted_databases(root: Path) -> list[Path]:
    """Two deep studies of one data fraction and different epoch limits, two classical studies of that fraction
    sharing their pipelines, and one classical study on all the data; commands stored as old runs did, absolute."""
    root.mkdir(parents=True, exist_ok=True)
    dbs = [planted.build(root / "planted.db"), planted.build_conditioned(root / "conditioned.db"),
           planted.build_classical(root / "classical.db"),
           planted.build_classical(root / "classical_b.db", name="classical_b", shift=0.01),
           planted.build_classical(root / "classical_full.db", name="classical_full", data_fraction=1.0, shift=0.03,
                                   budget="full"),
           planted.build_headline(root / "headline.db")]
    for db in dbs:
        name = load_study(db).name
        TrialDB(f"sqlite:///{db}").upsert_study(name, command=f"{sys.executable} {ROOT / 'tuning' / 'run.py'} "
                                                f"--space planted --db {db} --storage-path={ROOT / 'runs'}")
    return dbs


def _write(dbs: list[Path], out: Path) -> str:
    studies = [load_study(db) for db in dbs]
    return write_docs(studies, out, system=studies[:2]).read_text()


@pytest.fixture(scope="module")
def docs_pair(tmp_path_factory):
    """The docs of the planted databases, and of copies whose every stored accuracy was perturbed."""
    root = tmp_path_factory.mktemp("planted_docs")
    dbs = _planted_databases(root / "db")
    moved = []
    for db in dbs:
        copy = root / "perturbed" / db.name
        copy.parent.mkdir(exist_ok=True)
        shutil.copy(db, copy)
        with sqlite3.connect(copy) as conn:
            for table, cols in PERTURBED.items():
                conn.execute(f"UPDATE {table} SET " + ", ".join(PERTURB.format(col=c) for c in cols))
        moved.append(copy)
    return _write(dbs, root / "docs"), _write(moved, root / "docs_perturbed")


def markdown_tables(text: str) -> list[dict]:
    """Every table of the docs: heading, budget caption (the last `_Budget:` line since the heading), header, rows
    (cells without bold)."""
    tables, heading, caption, lines = [], "", "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading, caption = line, ""
        elif line.startswith("_Budget:"):
            caption = line
        elif line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip().replace("**", "") for c in lines[i].strip("|").split("|")])
                i += 1
            tables.append({"heading": heading, "caption": caption, "header": header, "rows": rows})
            continue
        i += 1
    return tables


def ours(tables: list[dict]) -> list[dict]:
    """Our tables: the literature table (a `source` column) cites others' numbers and is left out."""
    return [t for t in tables if "source" not in t["header"]]


def is_metric(column: str) -> bool:
    """An accuracy column: `best val (full) (%)`, `best val @ epoch g (%)`, `test acc (%)`, `val acc (%)`, or a
    difference of accuracies in points. Counts
    (trials, full_budget, n=...), parameter values and the system table's timings are not metrics."""
    return column.endswith("(%)") or column.endswith("(points)")


def metric_numbers(cell: str) -> list[str]:
    """The accuracies in a cell: mean and CI half-width, not the seed count `(n=3)`."""
    return re.findall(r"\d+\.\d+", cell.split("(n=")[0])


def test_docs_type_no_number(docs_pair):
    """Perturbing every stored accuracy changes every accuracy in every table of ours, cell by cell."""
    before, after = (ours(markdown_tables(t)) for t in docs_pair)
    assert [t["header"] for t in before] == [t["header"] for t in after] and len(before) >= 8
    checked = 0
    for a, b in zip(before, after):
        assert len(a["rows"]) == len(b["rows"]), a["heading"]
        for row_a, row_b in zip(a["rows"], b["rows"]):
            for col, x, y in zip(a["header"], row_a, row_b):
                if not is_metric(col):
                    assert x == y, (a["heading"], col)  # same rows and trials: the map keeps validation's order
                    continue
                nx, ny = metric_numbers(x), metric_numbers(y)
                assert len(nx) == len(ny), (a["heading"], col, x, y)
                if col.startswith(("s_d", "detectable")) and nx and float(nx[0]) == 0:  # no spread: a fixed point of any scaling
                    continue
                for u, v in zip(nx, ny):
                    assert u != v, f"{a['heading']}: {col} = {x} did not move with the database"
                    checked += 1
    assert checked >= 40


def test_docs_no_machine_path(docs_pair):
    text = docs_pair[0]
    assert not re.search(r"/work/|/home/|/tmp/|/Users/|/root/", text)
    commands = re.findall(r"command: `([^`]*)`", text)
    assert len(commands) == 6
    for command in commands:
        assert command.startswith("python tuning/run.py --space planted --db .../")
        assert not any(w.startswith("/") or "=/" in w for w in command.split()), command
        assert "--storage-path=runs" in command


def test_portable_command():
    assert portable_command(["/opt/venv/bin/python3.11", str(ROOT / "tuning" / "run.py"), "--db",
                             "/tmp/x/trials.db", f"--storage-path={ROOT}/runs/s"]) == \
        "python tuning/run.py --db .../trials.db --storage-path=runs/s"
    # a command recorded in another checkout keeps its part from the repository's entry on
    assert portable_command("/srv/ganrator/.venv/bin/python /srv/ganrator/tuning/run.py --space x") == \
        "python tuning/run.py --space x"


def test_docs_never_mix_budgets(docs_pair):
    """Every table of ours names one data fraction, and every study in it ran at that fraction and, if deep, at
    the one epoch limit the caption names; a pipeline appears once per table."""
    text = docs_pair[0]
    runs = dict(re.findall(r"^- `([^`]+)`: .*?data fraction (\S+)", text, flags=re.M))
    epochs = dict(re.findall(r"^- `([^`]+)`: .*?data fraction [^;]*?, (one fit per trial|up to \d+ epochs)\)",
                           text, flags=re.M))
    assert set(runs) == {"planted", "conditioned", "classical", "classical_b", "classical_full", "headline"}
    assert len(set(runs.values())) == 3 and len(set(epochs.values())) == 4
    tables = ours(markdown_tables(text))
    comparison = [t for t in tables if t["header"][:2] == ["model", "augmentation"]]
    assert len(comparison) == 3  # 0.1 with 4 epochs, 0.1 with 2 epochs, 1.0 classical only
    assert not any("headline" in [row[2] for row in t["rows"]] for t in comparison)  # its search only proposes
    for t in tables:
        fractions = re.findall(r"data fraction (\S+)", t["caption"])
        assert len(fractions) == 1, (t["heading"], t["caption"])
        if "study" in t["header"]:
            names = {row[t["header"].index("study")] for row in t["rows"]}
            assert {runs[n] for n in names} == {fractions[0]}, t["heading"]
            deep_limits = {epochs[n] for n in names} - {"one fit per trial"}
            assert len(deep_limits) <= 1 and all(d in t["caption"] for d in deep_limits), t["heading"]
    for t in comparison:
        pipelines = [tuple(row[:2]) for row in t["rows"]]
        assert len(pipelines) == len(set(pipelines)), t["heading"]
    # the classical pipelines of both 0.1 studies: one row each, from the study better on validation
    first = comparison[0]
    assert [row[2] for row in first["rows"] if row[1] == "n/a (classical)"] == ["classical_b"] * 3


def test_report_setup_reads_budget_and_command(tmp_path):
    """The per-study report's setup prose: split sizes from the stored budget, the command without machine paths."""
    from analysis.writeup.report import _setup_text
    from ganrator.data import COUNTS

    db = planted.build(tmp_path / "p.db")
    trial_db = TrialDB(f"sqlite:///{db}")
    budget = {**trial_db.study("planted")["budget"], "val_size": 1234}
    trial_db.upsert_study("planted", budget=budget, command=f"{sys.executable} {ROOT / 'tuning' / 'run.py'} --db {db}")
    text = _setup_text(load_study(db))
    assert f"{COUNTS['train'] - 1234:,} for training and 1,234 for validation" in text
    assert f"The {COUNTS['test']:,} test images" in text
    assert "**Command**: `python tuning/run.py --db .../p.db`" in text and "/tmp/" not in text


def test_docs_scaling_section_says_what_each_fit_identifies(tmp_path):
    """The scaling section shows the refits kept of drawn, c's status and the pure law where c is not identified,
    and says each point had the same step budget; every number is the fit's."""
    from analysis.present.tables import formatted_scaling
    from analysis.stats.scaling import scaling_table

    for name, law in (("floor", lambda n: 5.0 * n ** -0.4 + 0.06), ("nofloor", lambda n: 20.0 * n ** -0.5)):
        study = load_study(planted.build_scaling(tmp_path / f"{name}.db", law, name=name, steps=600))
        text = write_docs([study], tmp_path / name).read_text()
        section = text[text.index(f"#### Scaling (`{name}`)"):]  # the search's view, in the appendix
        shown = formatted_scaling(scaling_table(study)).set_index("axis").loc["training images (search view)"]
        row = next(r for t in markdown_tables(section) for r in t["rows"] if r[0] == "training images (search view)")
        assert shown["refits"] in row and re.fullmatch(r"kept \d+/300", shown["refits"])
        assert shown["b (95% CI)"] in row and shown["c (95% CI)"] in row and shown["reading"] in row
        lengths = text[text.index("### C. Training lengths"):text.index("### D. ")]
        assert "Every trial trained for 600 optimizer steps whatever its training-set size" in lengths
        assert "same epoch limit" not in text
        if name == "floor":
            assert shown["reading"] == "measured" and shown["pure law b, c = 0 (95% CI)"] == "—"
        else:
            assert "not identified (at 0)" in shown["c (95% CI)"] and shown["reading"].startswith("exploratory")
            assert f"the pure power law, b = {shown['pure law b, c = 0 (95% CI)']}" in section


def test_readme_results_cite_the_docs_and_match_them():
    """The README's summary of results points at docs/experiments.md, and every number in it appears there: a
    number typed into the README, or one left behind when the docs were regenerated, fails."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Results\n")
    section = readme[start:readme.index("\n## ", start + 1)]
    assert "docs/experiments.md" in section
    docs = (ROOT / "docs" / "experiments.md").read_text()
    numbers = re.findall(r"\d+\.\d+", section)
    assert len(numbers) >= 4, section
    missing = [n for n in numbers if n not in docs]
    assert not missing, f"README's results quote numbers docs/experiments.md does not hold: {missing}"


def test_comparison_tables_bold_the_row_validation_chooses(docs_pair):
    """In every comparison table the bold pipeline is the one with the best validation accuracy of that table
    (rows from several studies are re-sorted: the bold must follow the rows, not one study's order)."""
    comparison = [line for line in docs_pair[0].splitlines() if line.startswith("| ") and " | n/a (classical) |"
                  in line or line.startswith("| **") or line.startswith("| mlp") or line.startswith("| cnn")]
    tables = [t for t in ours(markdown_tables(docs_pair[0])) if t["header"][:2] == ["model", "augmentation"]]
    assert tables and comparison
    bold = {line.split("|")[1].strip().strip("*") for line in comparison if line.startswith("| **")}
    for t in tables:
        val = t["header"].index("best val (full) (%)")
        best = max(t["rows"], key=lambda r: float(r[val]) if r[val] != "—" else -1)
        assert best[0] in bold, (t["heading"], best[0], bold)


def test_confirmed_protocol_is_said_once_per_study(docs_pair):
    """The protocol of a study's confirmed arms is one paragraph under its section, not repeated per table."""
    text = docs_pair[0]
    sections = text.count("#### Confirmed comparisons (`")
    tables = text.count(" (confirmed, `")
    assert sections >= 1 and tables > sections  # a study with several confirmed parameters is planted
    assert text.count("Arms are chosen from the search") == sections
    assert "the best trial with the parameter at each value" in text


def test_docs_say_when_the_confirmation_contradicts_the_reference(tmp_path):
    """planted headline: aug_strength 1.0 beats the reference 0.5 on test (+0.5 points, paired) but not on
    validation, so nothing is said; once its validation is higher too, the study's sections say so up front."""
    import sqlite3

    from analysis.writeup.docs import overturned_reference
    from analysis.load import load_confirmation
    from analysis.stats.paired import confirmed_tables

    def said_of(db):
        return overturned_reference(confirmed_tables(*load_confirmation(load_study(db))))

    db = planted.build_headline(tmp_path / "headline.db")
    assert said_of(db) == []
    with sqlite3.connect(db) as conn:
        conn.execute("update ganrator_confirm_runs set val_acc = val_acc + 0.01 where arm_key in (select arm_key "
                     "from ganrator_confirm_arms where param = 'aug_strength' and value = '1.0')")
    (said,) = said_of(db)
    assert said.startswith("**The confirmation contradicts this study's reference on aug_strength.** "
                           "aug_strength = 1.0 is better than the reference's 0.5 on test, +0.50 [")
    assert "compares values with aug_strength = 0.5 and says nothing about aug_strength = 1.0" in said
    text = write_docs([load_study(db)], tmp_path / "docs").read_text()
    assert text.count("The confirmation contradicts") == 1


def test_docs_say_how_a_study_departed_from_the_full_preset(docs_pair):
    """A study run as `--budget full` with fewer trials is listed with the budget it ran, not the preset's."""
    assert "Studies here that used it: `classical_full` (with 0 trials instead of 200" in docs_pair[0]


def test_a_comparison_points_to_the_confirmation_at_its_own_budget(tmp_path):
    """Deep rows of a comparison are search trials; a study that confirmed its proposals at that very budget is
    named beside them with its best confirmed configuration on validation (not on test)."""
    from analysis.writeup.docs import comparison_tables

    db_path = planted.build(tmp_path / "planted.db")
    db = TrialDB(f"sqlite:///{db_path}")
    # two confirmed configurations at the search's own budget (data fraction 0.1, MAX_EPOCHS): the first is better
    # on validation, the second on test
    for key, aug, val, test in (("a0", 0.0, 0.90, 0.80), ("a1", 0.5, 0.85, 0.95)):
        db.upsert_confirm_arm("planted", "aug_strength", str(aug), arm_key=key, position=int(2 * aug), point=aug,
                              is_reference=key == "a0", source="planted")
        for s in range(3):
            db.upsert_confirm_run("planted", key, 1000 + s, status="completed", epochs=planted.MAX_EPOCHS,
                                  data_fraction=0.1, val_acc=val + 0.001 * s, test_acc=test + 0.001 * s,
                                  config={"model": "cnn", "aug_strength": aug, "data_fraction": 0.1,
                                          "epochs": planted.MAX_EPOCHS, "seed": 1000 + s})
    (_, _, table), = comparison_tables([load_study(db_path)])
    note = table.attrs["note"]
    assert "Deep rows here are search trials, which propose. `planted` retrained its proposals at this budget" in note
    assert "model cnn with aug_strength 0, reaches validation 90.10 ± " in note and "test 80.10 ± " in note
    # proposals beside full fits: no row is crowned, although the plain table bolds validation's choice
    from analysis.present.tables import formatted

    assert "No row is bold" in note and formatted(table).attrs["bold"] == []
    table.attrs.pop("no_bold")
    assert formatted(table).attrs["bold"]
    # confirmed at another length: no pointer
    with sqlite3.connect(db_path) as conn:
        conn.execute("update ganrator_confirm_runs set config = replace(config, '\"epochs\": "
                     f"{planted.MAX_EPOCHS}', '\"epochs\": 99')")
    (_, _, table), = comparison_tables([load_study(db_path)])
    assert "Deep rows here" not in table.attrs["note"] and formatted(table).attrs["bold"]


def test_the_runs_line_pairs_each_data_fraction_with_its_own_epochs(tmp_path):
    """A step budget gives the small set more epochs: the runs line lists them in the order of their fractions."""
    from analysis.writeup.docs import _trial_counts

    study = load_study(planted.build_aug_size(tmp_path / "a.db"))
    fractions = sorted(planted.AUG_SIZE_BASE)
    epochs = [-(-planted.AUG_SIZE_STEPS // (round(f * 55000) // 256)) for f in fractions]
    assert epochs[0] > epochs[-1]  # the smallest set trains the most epochs
    line = _trial_counts(study)
    assert f"for {'/'.join(map(str, epochs))} epochs, respectively" in line


def test_retrained_arms_with_two_seeds_are_descriptive_and_size_is_a_resource(tmp_path):
    """With 2 seeds per arm the retrained arms are titled descriptive and claim nothing; a confirmed data fraction
    is read as a resource against the reference's size, not as a choice."""
    study = load_study(planted.build_scaling(tmp_path / "s.db", lambda n: 5.0 * n ** -0.4 + 0.06, confirm_seeds=2))
    text = write_docs([study], tmp_path / "d").read_text()
    assert "## Retrained arms (`scaling`, n = 2: descriptive)" in text and "carry no ablation claim" in text
    assert "## Confirmed ablations (`scaling`)" not in text
    table = text[text.index("### data_fraction (confirmed, `scaling`)"):]
    assert "The training-set size is a resource, not a setting to choose" in table.split("| data_fraction |")[0]


def test_readme_is_a_short_front_page_whose_links_resolve():
    """At most 1,200 words; the manual lives in docs/, one page per topic, and every link points at a file."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.split()) <= 1200
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    pages = {"docs/studies.md", "docs/targets.md", "docs/spaces.md", "docs/database.md", "docs/analysis.md", "docs/cluster.md",
             "docs/testing.md"}
    assert pages <= set(links) and all((ROOT / link).is_file() for link in links)
    for page in pages:
        for link in re.findall(r"\]\(([^)#:]+)\)", (ROOT / page).read_text()):
            assert (ROOT / page).parent.joinpath(link).resolve().is_file(), (page, link)
