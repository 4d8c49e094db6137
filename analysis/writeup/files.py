"""Writing a rendered write-up: each table as its own Markdown, LaTeX (booktabs, \\input-able alone) and CSV file
under tables/, the HTML page and the LaTeX document beside the Markdown."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..present.figures import save_figure
from ..present.tables import to_latex
from .latex import document
from .templating import Item, Table


def file_stem(stem: str) -> str:
    """A name every file system, URL and \\input takes: a dotted parameter (cnn.width) would lose its tail to the
    suffix, and `% & #` end or break a LaTeX path."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", stem)


def write_tables(folder: Path, tables: list[Table]) -> dict[str, Path]:
    """tables/<stem>.md, .tex and .csv for each table; files of stems no longer written go (an earlier write-up's)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for t in tables:
        (t.data if t.data is not None else t.view).to_csv(folder / f"{t.stem}.csv", index=False)
        (folder / f"{t.stem}.tex").write_text(to_latex(t.view))
        (folder / f"{t.stem}.md").write_text(t.md + "\n")
        out[t.stem] = folder / f"{t.stem}.md"
    stems = {t.stem for t in tables}
    for old in folder.glob("*"):
        if old.suffix in (".md", ".tex", ".csv") and old.stem not in stems:
            old.unlink()
    return out


def finish_document(path: Path, text: str, tables: list[Table]) -> tuple[Path | None, Path]:
    """Beside `path` (the Markdown): tables/, the HTML page (None without the markdown package) and the LaTeX
    document. Returns (html, tex)."""
    write_tables(path.parent / "tables", tables)
    tex = path.with_suffix(".tex")
    tex.write_text(document(text, tables))
    try:
        from .html import render_html
    except ImportError:  # markdown is a dependency, but the .md write-up stands without the page
        return None, tex
    html = path.with_suffix(".html")
    html.write_text(render_html(text))
    return html, tex


def write_document(path: Path, text: str, tables: list[Table]) -> Path:
    """The Markdown at `path` and everything finish_document writes beside it; a figure of an earlier write-up that
    this one does not show (a study or point no longer listed) goes with it."""
    path.write_text(text)
    finish_document(path, text, tables)
    for png in (path.parent / "figures").glob("*.png"):
        if f"(figures/{png.name})" not in text:
            png.unlink()
    return path


@dataclass
class Writer:
    """Where the write-up's figures and tables go: PNG figures (docs stay small in git), each table as its own
    .md, .tex and .csv under tables/."""
    out: Path
    tables: list[Table] = field(default_factory=list)
    pdf: bool = False

    def figure(self, fig, stem: str, kind: str, **data) -> Item | None:
        if fig is None:
            return None
        png, pdf = save_figure(fig, self.out / "figures" / file_stem(stem), dpi=150)
        if not self.pdf:
            pdf.unlink()
        return Item(kind, data, figure=f"figures/{png.name}")

    def table(self, stem: str, view: pd.DataFrame, kind: str = "note", data: pd.DataFrame | None = None,
              **caption_data) -> Item:
        t = Table(file_stem(stem), view, data)
        self.tables.append(t)
        return Item(kind, caption_data, table=t)
