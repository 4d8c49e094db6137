"""Text and tables for pdflatex: special characters escaped (`\\ & % $ # _ { } ~ ^`), the signs the write-up uses
(− ≥ ≤ ± × — –) as commands pdflatex accepts, the Markdown the templates write inline (`code`, **bold**, _emphasis_,
[links](...)) as LaTeX, and booktabs tables whose long columns wrap to the line width."""
from __future__ import annotations

import re

import pandas as pd

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
            ">": r"\textgreater{}", "|": r"\textbar{}"}
_SIGNS = {"−": r"\textminus{}", "≥": r"$\geq$", "≤": r"$\leq$", "±": r"$\pm$", "×": r"$\times$", "—": "---",
          "–": "--", "…": r"\ldots{}", "→": r"$\rightarrow$", "↕": "", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
          "≈": r"$\approx$", "·": r"$\cdot$", "’": "'", "“": "``", "”": "''", "\u00a0": "~"}


def escape(text: str) -> str:
    """Plain text as LaTeX: specials escaped, the signs mapped; any other character outside Latin-1 (which T1 and
    utf8 input set up) becomes `?` rather than an error."""
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ch in _SIGNS:
            out.append(_SIGNS[ch])
        elif ord(ch) > 255:
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


# code spans first (their contents are literal), then links, bold, emphasis (underscores at word edges only:
# aug_strength is a word, not emphasis)
_INLINE = re.compile(r"`(?P<code>[^`]+)`|\[(?P<link>[^\]]+)\]\((?P<url>[^)]+)\)|\*\*(?P<bold>.+?)\*\*"
                     r"|(?<![\w\\])_(?P<em>[^_\s](?:.*?[^\s\\])?)_(?!\w)")


def inline(text: str) -> str:
    """A line of the templates' Markdown as LaTeX."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m["code"] is not None:
            out.append(r"\texttt{" + escape(m["code"]) + "}")
        elif m["link"] is not None:
            out.append(inline(m["link"]))
        elif m["bold"] is not None:
            out.append(r"\textbf{" + inline(m["bold"]) + "}")
        else:
            out.append(r"\emph{" + inline(m["em"]) + "}")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


WRAP_AT = 100  # characters across the widest cells of a table: beyond, its long columns wrap


def column_spec(table: pd.DataFrame) -> str:
    """`l` columns when the table fits the line; else the columns wider than a short label wrap, sharing the width
    left by the others in proportion to their widest cell."""
    widths = [max([len(str(c))] + [len(str(v)) for v in table[c]]) for c in table.columns]
    if sum(widths) <= WRAP_AT:
        return "l" * len(widths)
    narrow = 14
    wide = [w for w in widths if w > narrow]
    share = max(0.2, 1.0 - sum(min(w, narrow) for w in widths if w <= narrow) / WRAP_AT)
    spec = []
    for w in widths:
        if w <= narrow:
            spec.append("l")
        else:
            frac = share * min(w, 60) / sum(min(x, 60) for x in wide)
            spec.append(r">{\raggedright\arraybackslash}p{" + f"{max(frac - 0.02, 0.06):.3f}" + r"\linewidth}")
    return "".join(spec)


def tabular(table: pd.DataFrame) -> str:
    """A booktabs tabular of a formatted table; the cells in table.attrs['bold'] in bold."""
    bold = set(table.attrs.get("bold", []))
    cols = list(table.columns)
    lines = [r"\begin{tabular}{" + column_spec(table) + "}", r"\toprule",
             " & ".join(inline(str(c)) for c in cols) + r" \\",
             r"\midrule"]
    for i, row in table.iterrows():
        cells = [r"\textbf{" + inline(str(row[c])) + "}" if (i, c) in bold else inline(str(row[c])) for c in cols]
        # a row opening with "[" would be read as the optional argument of the \\ or \midrule before it
        text = " & ".join(cells)
        lines.append(("{}" if text.startswith("[") else "") + text + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
