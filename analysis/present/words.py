"""The words of tables' notes and of the write-up: Jinja2 templates in analysis/templates, rendered with the
numbers passed in. The code computes; a template says. Filters print numbers as the write-up does everywhere."""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np

from .text import p_text, pct_text

TEMPLATES = Path(__file__).parents[1] / "templates"


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating)) and math.isfinite(x)


def points(x, signed: bool = True) -> str:
    """An accuracy difference (a fraction) in points: +1.23."""
    return (f"{100 * x:+.2f}" if signed else f"{100 * x:.2f}") if _finite(x) else "n/a"


def interval(low, high) -> str:
    """[+0.12, +1.80] in points."""
    return f"[{points(low)}, {points(high)}]"


def count(n) -> str:
    return f"{int(n):,}"


def sentence_list(items) -> str:
    """a, b and c."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def p_value(p) -> str:
    """`= 0.041` or `< 0.001`, to follow a p in running text."""
    text = p_text(p)
    return text.replace("<", "< ") if text.startswith("<") else f"= {text}"


def code(text) -> str:
    return f"`{text}`"


def plural(n, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters.update(points=points, interval=interval, count=count, pct=pct_text, p=p_value, and_list=sentence_list,
                       plural=plural, code=code)
    env.tests["finite"] = _finite
    return env


def render(template: str, **context) -> str:
    """The template `template` with `context`; blank runs of lines squeezed to one, so conditional blocks leave no gaps."""
    text = environment().get_template(template).render(**context)
    lines, out = text.splitlines(), []
    for line in lines:
        if line.strip() or (out and out[-1].strip()):
            out.append(line.rstrip())
    return "\n".join(out).strip() + "\n"


def words(template: str, macro: str, /, **data) -> str:
    """The macro `macro` of templates/`template`, with `data`: a sentence or paragraph the code calls by name."""
    return str(getattr(environment().get_template(template).module, macro)(**data)).strip()


def say(note: str, /, **data) -> str:
    """The paragraph `note` of templates/notes.md.j2, with `data`."""
    return words("notes.md.j2", note, **data)
