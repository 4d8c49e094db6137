"""What each study ran: its budget (data fraction, epochs or optimizer steps), its trials and confirmation runs, and
the budget presets for comparison, read from the stored budgets and from tuning/budgets.py, never typed.

Tables never mix budgets: each names its data fraction and epochs in a budget line (`caption`), and studies of
different data fractions or epoch limits go to different tables.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tuning.budgets import BUDGETS
from tuning.command import portable_command

from ..load import Study, load_confirmation
from ..stats.scaling import train_size
from .templating import say


ONE_FIT = "one fit per trial"


@dataclass(frozen=True)
class StudyBudget:
    """What a study's trials trained on: the share of the training split (None: a scientific parameter that varies
    per trial) and the epoch limit (None: classical, one fit per trial)."""
    fraction: float | None
    max_epochs: int | None
    val_size: int | None

    @property
    def fraction_text(self) -> str:
        if self.fraction is None:
            return "varied"
        images = train_size({"data_fraction": self.fraction, **({"val_size": self.val_size} if self.val_size else {})})
        return f"{self.fraction:g} ({images:,} training images)"

    @property
    def epochs_text(self) -> str:
        """`one fit per trial` or `up to 8 epochs`."""
        return ONE_FIT if self.max_epochs is None else f"up to {self.max_epochs} epochs"


def is_classical(s: Study) -> bool:
    return s.meta.get("kind") == "classical"


def study_budget(s: Study) -> StudyBudget:
    b = s.meta.get("budget") or {}
    fraction = None if "data_fraction" in s.scientific() else float(b.get("data_fraction", 1.0))
    return StudyBudget(fraction, None if is_classical(s) else s.max_epochs, b.get("val_size"))


def caption(fraction: str, epochs: str) -> str:
    """The budget line under a table's heading; the tests read the data fraction from it."""
    return say("budget", fraction=fraction, epochs=epochs)


def _study_fractions(s: Study) -> str:
    """A study whose data fraction is scientific: the range its trials used, and the space's values where the
    trials drew only some of them (a search that only picks a reference among confirmed cells)."""
    values = [c.get("data_fraction") for c in s.trials["config"] if isinstance(c, dict) and c.get("data_fraction")]
    if not values:
        return "varied per trial"
    spec = s.specs.get("data_fraction") or {}
    space = [float(v) for v in spec.get("choices") or [] if isinstance(v, (int, float))]
    drawn = f"{min(values):g}" if min(values) == max(values) else f"{min(values):g} to {max(values):g}"
    if space and (min(space), max(space)) != (min(values), max(values)):
        return (f"varied per trial (a scientific parameter: {', '.join(f'{v:g}' for v in space)} in the space; "
                f"its {len(values)} trial{'s' if len(values) > 1 else ''} drew {drawn})")
    return f"varied per trial ({drawn}, a scientific parameter)"


def _trial_counts(s: Study) -> str:
    t = s.trials
    data = {"trials": len(t), "by": [(status.replace("_", " "), n) for status, n in t["status"].value_counts().items()],
            "longest": int(t["epochs"].max()) if not is_classical(s) and len(t) and t["epochs"].notna().any()
            else None, "finals": None, "confirmation": None}
    f = s.finals
    if len(f) and f["test_acc"].notna().any():
        done = f[f["test_acc"].notna()]
        data["finals"] = (done["trial_id"].nunique(), done.groupby("trial_id")["seed"].nunique().max())
    _, runs = load_confirmation(s)
    done = runs[runs["test_acc"].notna()] if len(runs) else runs
    if len(done):  # the stage that decides trains at its own budget, not the search's
        by_fraction = {float(c.get("data_fraction", 1.0)): c for c in done["config"] if isinstance(c, dict)}
        fractions = sorted(by_fraction)
        # epochs in the order of the fractions they belong to (a step budget gives a small set many epochs)
        per = {f: sorted({int(e) for c, e in zip(done["config"], done["epochs"]) if isinstance(c, dict)
                          and float(c.get("data_fraction", 1.0)) == f and pd.notna(e)}) for f in fractions}
        data["confirmation"] = {
            "configs": done["arm_key"].nunique(), "seeds": done.groupby("arm_key")["seed"].nunique().max(),
            "fractions": "/".join(f"{x:g}" for x in fractions),
            "images": ", ".join(f"{train_size(by_fraction[f]):,}" for f in fractions),
            "epochs": "/".join(" or ".join(map(str, per[f])) or "?" for f in fractions), "several": len(fractions) > 1}
    return say("trial_counts", **data)


def _trial_length(s: Study, sb: StudyBudget, per: str = "trial", epochs_vary: bool = False) -> str:
    """How long each trial (or run) of the study trains: its step budget, or the budget's epochs."""
    steps = _trial_steps(s) if not is_classical(s) else []
    if not (steps and steps[0] > 0):
        return sb.epochs_text
    return (f"{' or '.join(f'{n:,}' for n in steps)} optimizer steps per {per}"
            + (", epochs varying with the training-set size" if epochs_vary else ""))


def _budget_line(s: Study) -> str:
    b = s.meta.get("budget") or {}
    sb = study_budget(s)
    fraction = _study_fractions(s) if sb.fraction is None else sb.fraction_text
    return (f"`{s.name}`: space `{s.meta.get('space')}`, budget `{b.get('name')}` ({b.get('num_samples')} trials "
            f"asked, data fraction {fraction}, {_trial_length(s, sb)}); "
            f"{_trial_counts(s)}; command: `{portable_command(s.meta.get('command'))}`")


def budget_groups(studies: list[Study]) -> dict[tuple, list[Study]]:
    """Studies by (data fraction, epoch limit), in the order given; a study with a varied fraction stands alone."""
    groups: dict[tuple, list[Study]] = {}
    for s in studies:
        sb = study_budget(s)
        key = (sb.fraction, sb.max_epochs) if sb.fraction is not None else ("varied", s.name)
        groups.setdefault(key, []).append(s)
    return groups


def budget_paragraph(studies: list[Study]) -> str:
    """What the runs above trained on, group by group, and the full preset for comparison: read from the stored
    budgets and from BUDGETS, never typed."""
    groups = []
    for members in budget_groups(studies).values():
        sb = study_budget(members[0])
        groups.append({"names": [s.name for s in members], "length": _trial_length(members[0], sb),
                       "fraction": _study_fractions(members[0]) if sb.fraction is None else sb.fraction_text})
    full = BUDGETS["full"]
    images = train_size({"data_fraction": full.data_fraction, "val_size": full.val_size})
    used = []
    at_full = [s for s in studies if (s.meta.get("budget") or {}).get("name") == "full"]
    for st in at_full:
        b = st.meta["budget"]
        # what the command line changed: a study is reported with the budget it ran, not the preset's
        changed = [(b[k], label, getattr(full, k))
                   for k, label in (("num_samples", "trials"), ("final_seeds", "final seeds"),
                                    ("max_epochs", "epochs at most"))
                   if k in b and b[k] != getattr(full, k) and not (k == "max_epochs" and is_classical(st))]
        used.append({"name": st.name, "changed": changed})
    return say("budget_paragraph", groups=groups, full=full, images=images, used=used,
               no_deep=all(is_classical(st) for st in at_full))


def _trial_steps(s: Study) -> list[int]:
    """The step budgets (TrainConfig.steps) the study's trials used; [0] for trials that ran for their epochs."""
    return sorted({int(c.get("steps") or 0) for c in s.trials["config"] if isinstance(c, dict)})


def _training_length(s: Study, sb: StudyBudget) -> str:
    """How long each scaling point trained, from the trials' stored configs: a step budget (the same optimizer steps
    at every training-set size) or an epoch limit (fewer steps for smaller sets)."""
    steps = _trial_steps(s)
    return say("training_length", steps=steps if steps and steps[0] > 0 else [], epochs=sb.epochs_text,
               budget=(s.meta.get("budget") or {}).get("name"))

