"""The write-up a reader can use in a minute: findings first (each question's primary comparison, the overturned
choice first, the detectable effect of an inconclusive one), the methods once, a main text of at most 3,000 words
with short captions and one budget line per section, and LaTeX that pdflatex compiles."""
from __future__ import annotations

import math
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import planted
import pytest
from scipy import stats

from analysis import load_study
from analysis.load import load_confirmation
from analysis.stats import comparisons as C
from analysis.stats.paired import confirmed_tables
from analysis.writeup.docs import write_docs
from analysis.writeup.report import build_report

MAX_MAIN_WORDS = 3000
MAX_PAGES = 16  # the planted report: a few pages of findings, methods and results, the rest appendix


def _databases(root: Path) -> list[Path]:
    """Every kind of planted study: a headline with its classical study, a search with ablations, classical searches,
    augmentation against size and a scaling study with confirmed sizes and widths."""
    root.mkdir(parents=True, exist_ok=True)
    return [planted.build_headline(root / "headline.db"), planted.build(root / "planted.db"),
            planted.build_conditioned(root / "conditioned.db"), planted.build_classical(root / "classical.db"),
            planted.build_classical(root / "classical_full.db", name="classical_full", data_fraction=1.0, shift=0.03,
                                    budget="full"),
            planted.build_aug_size(root / "aug_size.db", fractions=(0.1, 0.25)),
            planted.build_scaling(root / "scaling.db", lambda n: 5.0 * n ** -0.4 + 0.06, confirm_seeds=3,
                                  confirm_widths=(8, 16, 32, 64))]


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("writeup")
    studies = [load_study(db) for db in _databases(root / "db")]
    return write_docs(studies, root / "docs").read_text(), root / "docs"


def main_text(text: str) -> str:
    return text[:text.index("\n## Appendix\n")]


def findings_of(text: str) -> list[str]:
    section = text[text.index("## Findings\n"):text.index("\n## Methods\n")]
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_main_text_is_at_most_3000_words_and_the_findings_come_first(docs):
    text, _ = docs
    main = main_text(text)
    assert len(main.split()) <= MAX_MAIN_WORDS  # as `wc -w` counts: tables and captions included
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[:2] == ["## Findings", "## Methods"] and headings.count("## Methods") == 1
    findings = findings_of(text)
    assert 1 <= len(findings) <= C.MAX_FINDINGS
    # each question's primary comparison is among them
    for question in ("**Classical or deep.**", "**Augmentation.**", "**Training-set size.**"):
        assert sum(f.startswith("- " + question) for f in findings) >= 1, (question, findings)
    # one sentence each, with its interval or the reason it has none, n and the budget
    for f in findings:
        assert f.count(". ") <= 1 and "n = " in f and ("training images" in f or "steps" in f), f


def test_captions_are_short_and_the_budget_is_said_once_per_section(docs):
    text, _ = docs
    main = main_text(text)
    figure_captions = [c for c in re.findall(r"^_(.+)_$", main, flags=re.M) if not c.startswith(("Budget:",
                                                                                                  "Generated"))]
    table_captions = re.findall(r"\n\n([^|#_\n-][^\n]*)\n\n\|", main)  # the paragraph right above a table
    assert figure_captions and table_captions
    for caption in figure_captions + table_captions:
        assert len(re.findall(r"[.!?](?:\s|$)", caption)) <= 2, caption
    for section in re.split(r"\n(?=#{2,3} )", main):
        assert section.count("_Budget:") <= 1, section[:80]
    # the protocol is the methods': no table note of the main text restates it
    assert "Arms are chosen from the search" not in main and main.count("fresh seeds shared by every arm") == 1


def test_forest_plots_come_before_the_levels(docs):
    text, folder = docs
    for title, forest in (("## 1. Classical", "forest_family.png"), ("## 2. Does augmentation", "forest_augmentation"),
                          ("## 3. Accuracy against", "forest_size.png")):
        start = text.index(title)
        section = text[start:text.index("\n## ", start + 1)]
        assert forest in section and section.index(forest) < section.index("|"), title
    assert all((folder / ref).is_file() for ref in re.findall(r"\]\((figures/[^)]+)\)", text))


def test_the_overturned_choice_comes_first(tmp_path):
    """planted headline: aug_strength 1.0 is better than the search's choice 0.5 on test; once it is better on
    validation too, the confirmation overturns the choice, and that finding comes first."""
    db = planted.build_headline(tmp_path / "headline.db")
    with sqlite3.connect(db) as conn:
        conn.execute("update ganrator_confirm_runs set val_acc = val_acc + 0.01 where arm_key in (select arm_key "
                     "from ganrator_confirm_arms where param = 'aug_strength' and value = '1.0')")
    rep = build_report(load_study(db), tmp_path / "r")
    first = findings_of(rep.markdown.read_text())[0]
    assert first.startswith("- **Augmentation.** The search chose `aug_strength = 0.5`; on fresh seeds, "
                            "`aug_strength = 1` is better by +0.50 points ["), first


def test_a_finding_says_when_its_runs_had_not_fitted(tmp_path):
    """A confirmed comparison whose runs ended below the convergence rule's training accuracy says so in its
    finding: it compares how far training got, not a trained network."""
    db = planted.build_headline(tmp_path / "headline.db")
    with sqlite3.connect(db) as conn:
        conn.execute("update ganrator_confirm_runs set train_acc = 1.0")
    fitted = findings_of(build_report(load_study(db), tmp_path / "fitted").markdown.read_text())
    with sqlite3.connect(db) as conn:
        conn.execute("update ganrator_confirm_runs set train_acc = 0.9 where arm_key in (select arm_key "
                     "from ganrator_confirm_arms where param = 'aug_strength' and value = '0.5')")
    short = findings_of(build_report(load_study(db), tmp_path / "short").markdown.read_text())
    note = "; runs below 99% training accuracy, not fitted)"
    assert not any(note in f for f in fitted), fitted
    augmentation = next(f for f in short if f.startswith("- **Augmentation.**"))
    assert note in augmentation and "`aug_strength = 0.5`" in augmentation, short


def test_an_inconclusive_finding_states_what_its_design_detects(tmp_path):
    """A comparison whose interval holds 0 says the smallest effect it detects with 80% power at alpha 0.05:
    (t(0.975, n-1) + t(0.80, n-1)) x s_d / sqrt(n)."""
    study = load_study(planted.build_aug_size(tmp_path / "a.db", fractions=(0.25,)))
    arms, runs = load_confirmation(study)
    from analysis.stats.cross import confirmed_cross

    comps = C.from_cross(confirmed_cross(arms, runs), study.name)
    c = next(c for c in comps if c.verdict == "inconclusive")
    d = np.asarray(c.per_seed)
    n = len(d)
    expected = (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.80, n - 1)) * d.std(ddof=1) / math.sqrt(n)
    assert c.detectable == pytest.approx(expected)
    rep = build_report(study, tmp_path / "r")
    findings = "\n".join(findings_of(rep.markdown.read_text()))
    assert f"inconclusive: this design detects {100 * expected:.2f} points or more" in findings


def test_findings_hold_one_primary_per_question_and_at_most_six(tmp_path):
    comps = []
    headline = load_study(planted.build_headline(tmp_path / "h.db"))
    arms, runs = load_confirmation(headline)
    comps += C.from_confirmed(headline.name, confirmed_tables(arms, runs), arms, runs)
    scaling = load_study(planted.build_scaling(tmp_path / "s.db", lambda n: 5.0 * n ** -0.4, confirm_seeds=3))
    arms, runs = load_confirmation(scaling)
    comps += C.from_confirmed(scaling.name, confirmed_tables(arms, runs), arms, runs)
    C.choose_primaries(comps)
    primaries = [c for c in comps if c.primary]
    assert sorted(c.question for c in primaries) == ["augmentation", "size"]
    size = next(c for c in primaries if c.question == "size")
    assert (size.arm, size.base) == ("55,000 images", "1,719 images") and size.diff > 0  # largest minus smallest
    chosen = C.findings(comps)
    assert len(chosen) <= C.MAX_FINDINGS and all(p in chosen for p in primaries)


def _odd_names(db: Path, study: str) -> None:
    """Give a planted headline study and its `model` parameter names with `_ % & #` in them."""
    with sqlite3.connect(db) as conn:
        for table, cols in (("ganrator_trials", ("params",)), ("ganrator_studies", ("roles", "search"))):
            for col in cols:
                conn.execute(f"update {table} set {col} = replace({col}, '\"model\"', '\"net_%_&_#\"')")
        conn.execute("update ganrator_confirm_arms set param = 'net_%_&_#' where param = 'model'")
        for table in ("ganrator_studies", "ganrator_trials", "ganrator_epochs", "ganrator_confirm_arms",
                      "ganrator_confirm_runs", "ganrator_final_evals"):
            column = "name" if table == "ganrator_studies" else "study"
            conn.execute(f"update {table} set {column} = ?", (study,))


def _latex_missing() -> str | None:
    for tool, package in (("pdflatex", "texlive-latex-base"), ("pdftotext", "poppler-utils"),
                          ("pdfinfo", "poppler-utils")):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install {package}; `make test` does it as root)"
    return None


def _compile(tex: Path) -> str:
    """pdflatex the document in its folder; the PDF's text, ligatures and line-end hyphens undone."""
    out = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tex.parent,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:]
    text = subprocess.run(["pdftotext", tex.with_suffix(".pdf").name, "-"], cwd=tex.parent, capture_output=True,
                          text=True, timeout=60, check=True).stdout
    for lig, plain in (("ﬁ", "fi"), ("ﬂ", "fl"), ("ﬀ", "ff"), ("ﬃ", "ffi"), ("ﬄ", "ffl"), ("’", "'"), ("−", "-")):
        text = text.replace(lig, plain)
    return re.sub(r"(?<=[a-z])-\n(?=[a-z])", "", text)


def _plain(markdown_line: str) -> str:
    """A finding as the PDF shows it: no Markdown marks, no spaces (line breaks fall anywhere)."""
    return re.sub(r"\s+", "", markdown_line.removeprefix("- ").replace("**", "").replace("`", ""))


def test_the_report_compiles_with_pdflatex_and_holds_its_findings(tmp_path):
    if reason := _latex_missing():
        pytest.skip(reason)
    name = "head_100%_&_#1"
    db = planted.build_headline(tmp_path / "h.db")
    _odd_names(db, name)
    study = load_study(db)
    assert study.name == name and "net_%_&_#" in study.scientific()
    rep = build_report(study, tmp_path / "report")
    tex = rep.tex.read_text()
    assert r"head\_100\%\_\&\_\#1" in tex and r"net\_\%\_\&\_\#" in tex
    # each table is also a file of its own, \input by the document
    inputs = re.findall(r"\\input\{tables/([^}]+)\}", tex)
    assert "confirmed_net_%_&_#" not in inputs and inputs
    for stem in inputs:
        assert (rep.out / "tables" / f"{stem}.tex").read_text().startswith(r"\begin{tabular}")
    text = _compile(rep.tex)
    pages = subprocess.run(["pdfinfo", "experiments.pdf"], cwd=rep.out, capture_output=True, text=True,
                           check=True).stdout
    assert 1 <= int(re.search(r"Pages:\s+(\d+)", pages).group(1)) <= MAX_PAGES
    findings = findings_of(rep.markdown.read_text())
    assert findings and any("net_%_&_#" in f for f in findings)
    flat = re.sub(r"\s+", "", text)
    for f in findings:
        assert _plain(f) in flat, f
    assert re.search(r"Experiments:head_100%_?&_?#1", flat)  # (pdftotext may drop an underscore drawn as a rule)


def test_the_docs_compile_with_pdflatex(docs):
    if reason := _latex_missing():
        pytest.skip(reason)
    text, folder = docs
    pdf_text = re.sub(r"\s+", "", _compile(folder / "experiments.tex"))
    for f in findings_of(text):
        assert _plain(f) in pdf_text, f
