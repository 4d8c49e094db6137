"""Sentences read from the scaling table: what each fit identifies (worded in templates/scaling.md.j2)."""
from __future__ import annotations

import math

import pandas as pd

from ..present.tables import _interval
from ..stats.scaling import C_PROFILE
from .templating import words


def scaling_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per axis saying what its fit identifies, every number read from the table."""
    out = []
    for _, r in table.iterrows():
        fitted = math.isfinite(r["b"])
        data = {"axis": r["axis"], "fitted": fitted, "reason": r["reading"].removeprefix("no fit: ")}
        if fitted:
            data.update(points=int(r["points"]), b=_interval(r["b"], r["b_ci_low"], r["b_ci_high"]),
                        refits_kept=int(r["refits_kept"]), refits_drawn=int(r["refits_drawn"]),
                        c_identified=bool(r["c_identified"]), exploratory=bool(r["exploratory"]),
                        why=r["reading"].removeprefix("exploratory: "), shares=C_PROFILE)
            if r["c_identified"]:
                data.update(c=_interval(r["c"], r["c_ci_low"], r["c_ci_high"], 4))
            else:
                data.update(c_at=r["c_status"].split("(")[1].rstrip(")"), profile=list(r["b_profile"]),
                            b_pure=_interval(r["b_pure"], r["b_pure_low"], r["b_pure_high"]))
        out.append(words("scaling.md.j2", "fit_reading", **data))
    return out
