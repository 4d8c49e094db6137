"""The write-up as a LaTeX document (experiments.tex) from the Markdown the templates render: headings as sections,
bullet lists, paragraphs, each table \\input from its own file under tables/ (booktabs), each figure included.
Compiles with pdflatex from texlive-latex-base, -latex-recommended and -fonts-recommended."""
from __future__ import annotations

import re

from ..present.latex import inline

PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{textcomp}
\usepackage{mathptmx}
\usepackage{courier}
\usepackage[margin=2cm]{geometry}
\usepackage{booktabs}
\usepackage{array}
\usepackage{graphicx}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.45em}
\sloppy
"""
SECTIONING = {1: None, 2: r"\section*", 3: r"\subsection*", 4: r"\subsubsection*", 5: r"\paragraph", 6: r"\paragraph"}
_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)$")


def _table_stem(block: str, tables) -> str | None:
    """The stem of the registered table whose Markdown is this block."""
    text = block.strip()
    return next((t.stem for t in tables if t.md.strip() == text), None)


def body(markdown: str, tables) -> str:
    """The document's body from its Markdown; `tables`: the write-up's Table objects, each \\input by stem."""
    lines = markdown.splitlines()
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            title = inline(line[level:].strip())
            out.append(r"\begin{center}{\Large\bfseries " + title + r"}\end{center}" if level == 1 else
                       SECTIONING[min(level, 6)] + "{" + title + "}")
            i += 1
        elif line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            stem = _table_stem("\n".join(lines[start:i]), tables)
            if stem is None:
                raise ValueError(f"a table of the write-up has no file of its own: {lines[start][:80]}")
            out.append(r"\begin{center}\footnotesize" + "\n" + r"\input{tables/" + stem + "}\n" + r"\end{center}")
        elif m := _IMAGE.match(line.strip()):
            src = re.sub(r"\.(png|pdf)$", "", m["src"])  # pdflatex takes the PDF where there is one, else the PNG
            out.append(r"\begin{center}\includegraphics[width=0.9\linewidth,height=0.42\textheight,keepaspectratio]{"
                       + src + "}\\end{center}")
            i += 1
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(r"\item " + inline(lines[i][2:].strip()))
                i += 1
            out.append("\\begin{itemize}\n" + "\n".join(items) + "\n\\end{itemize}")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "- ", "![")):
                para.append(lines[i].strip())
                i += 1
            out.append(inline(" ".join(para)))
    return "\n\n".join(out) + "\n"


def document(markdown: str, tables) -> str:
    """A standalone document: the preamble, then the body."""
    return PREAMBLE + "\\begin{document}\n" + body(markdown, tables) + "\\end{document}\n"
