"""Sentences read from the scaling table: what each fit identifies."""
from __future__ import annotations

import math

import pandas as pd

from ..present.tables import _interval
from ..stats.scaling import C_PROFILE


def scaling_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per axis saying what its fit identifies, every number read from the table."""
    out = []
    for _, r in table.iterrows():
        if not math.isfinite(r["b"]):
            out.append(f"Against {r['axis']}: no fit ({r['reading'].removeprefix('no fit: ')}).")
            continue
        b_text = _interval(r["b"], r["b_ci_low"], r["b_ci_high"])
        refits = f"{int(r['refits_kept'])} of {int(r['refits_drawn'])} bootstrap refits"
        if r["c_identified"]:
            text = (f"Against {r['axis']} ({int(r['points'])} points): b = {b_text} from {refits}, with c = "
                    f"{_interval(r['c'], r['c_ci_low'], r['c_ci_high'], 4)} inside its range")
        else:
            profile = ", ".join(f"{b:.3f}" for b in r["b_profile"])
            shares = ", ".join(f"{q:.0%}" for q in C_PROFILE)
            text = (f"Against {r['axis']} ({int(r['points'])} points): c is not identified "
                    f"({r['c_status'].split('(')[1].rstrip(')')}), so neither is b, which rests on where the floor "
                    f"is put: with c held at {shares} of the smallest error, b = {profile} (the first is the pure "
                    f"power law, b = {_interval(r['b_pure'], r['b_pure_low'], r['b_pure_high'])}); the 3-parameter "
                    f"fit's b = {b_text} ({refits}) holds only for its fitted c")
        text += ". " + ("The fit is measured by the rules above." if not r["exploratory"] else
                        f"The fit is exploratory ({r['reading'].removeprefix('exploratory: ')}): it shows a trend, "
                        "not an exponent to quote.")
        out.append(text)
    return out

