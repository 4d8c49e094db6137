"""The planned study's write-up on a planted database: findings first with each question's answer, methods once, a
main text of at most 3,000 words, legible figures, and LaTeX beside it."""
from __future__ import annotations

import re
import time

import pytest

from analysis.present.figures.curves import curves_plot
from analysis.present.legibility import problems
from analysis.stats import curves as S
from analysis.writeup.plan_doc import write_plan_docs
from tests.test_curves import PLAN, planted_runs
from tuning.db import db_url, open_db, plan_runs, plans


@pytest.fixture(scope="module")
def planted_doc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan_doc")
    runs = planted_runs(noise=0.003)
    url = db_url(str(tmp / "planted.db"), tmp)
    db = open_db(url)
    now = time.time()
    for r in runs.to_dict("records"):
        key = {"study": PLAN.name, "job_key": r.pop("job_key")}
        db.upsert_row(plan_runs, key, **{k: v for k, v in r.items() if k != "test_acc" or v is not None},
                      ended_at=now)
    db.upsert_row(plans, {"study": PLAN.name, "sha256": PLAN.sha256}, text=PLAN.text, commit="0" * 40,
                  first_run_at=now)
    path = write_plan_docs(PLAN, url, tmp / "docs", None, "results/curves.db", "make docs")
    return path.read_text(), tmp / "docs", runs


def test_findings_come_first_and_answer_each_question(planted_doc):
    text, _, _ = planted_doc
    findings = text[text.index("## Findings"):text.index("## Methods")]
    bullets = [line for line in findings.splitlines() if line.startswith("- ")]
    assert len(bullets) <= 6
    for title in ("**Classical or deep.**", "**Augmentation.**", "**Training-set size.**", "**Scaling, CNN.**"):
        assert sum(b.startswith(f"- {title}") for b in bullets) == 1, title
    assert "Not yet measured" not in findings and "in progress" not in text
    assert text.index("## Findings") < text.index("## Methods") < text.index("## 1.") < text.index("## Appendix")
    assert text.count("## Methods") == 1


def test_the_main_text_is_at_most_3000_words(planted_doc):
    text, _, _ = planted_doc
    assert len(text[:text.index("## Appendix")].split()) <= 3000


def test_inconclusive_augmentation_states_what_the_design_detects(planted_doc):
    text, _, runs = planted_doc
    line = next(b for b in text.splitlines() if b.startswith("- **Augmentation.**"))
    assert re.search(r"\[[+-]\d+\.\d\d, [+-]\d+\.\d\d\]", line) and "n = " in line
    if "inconclusive" in line:
        assert "this design detects" in line


def test_the_figures_are_legible_and_the_tables_are_written_for_latex(planted_doc):
    text, out, runs = planted_doc
    state = S.decisions(PLAN, runs)
    fig = curves_plot(S.confirmed(PLAN, runs, state), list(PLAN.sizes),
                      {a: S.fit_curve(PLAN, state, a, n_boot=50) for a in ("cnn", "classical")}, PLAN.held_out_size)
    assert problems(fig) == []
    assert (out / "experiments.tex").is_file() and (out / "tables" / "curves.tex").is_file()
    for png in re.findall(r"\]\((figures/[^)]+)\)", text):
        assert (out / png).is_file()
