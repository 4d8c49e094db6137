"""The write-up's building blocks: tables, figures and sections, worded by the templates in analysis/templates
(analysis.present.words renders them)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..present.words import (TEMPLATES, code, count, environment, interval, p_value, plural, points,  # noqa: F401
                             render, say, sentence_list, words)


@dataclass
class Table:
    """A table of the write-up: its stem (the file name of its own .md, .tex and .csv) and its formatted view."""
    stem: str
    view: pd.DataFrame
    data: pd.DataFrame | None = None  # the numbers, for the CSV (default: the view)
    md: str = field(default="", init=False)

    def __post_init__(self):
        from ..present.tables import to_markdown

        self.md = to_markdown(self.view).rstrip("\n")


@dataclass
class Item:
    """A table or a figure with its caption, which the template `captions.md.j2` words from `kind` and `data`."""
    kind: str
    data: dict = field(default_factory=dict)
    table: Table | None = None
    figure: str | None = None  # path relative to the document


@dataclass
class Section:
    """A heading, the budget line its tables share (said once), a lead paragraph and its items."""
    title: str
    budget: str = ""
    lead: str = ""
    items: list[Item] = field(default_factory=list)
    level: int = 3
