"""What was scored before the planned study (results/history.yaml): per family, the configurations scored on
validation, the test reads and the stated compute of every earlier study and benchmark, and the deep recipe's test
reads in order. Loaded into typed dataclasses; an unknown, missing or mistyped key, or a total that is not what the
entries add up to, fails in one line naming the file and the key."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FAMILIES = ("classical", "deep")
USED_TEST = ("yes", "no", "in part", "nothing chosen")  # did the choice after a test read use it


class HistoryError(ValueError):
    """A history file that does not say what it must: the message names the file and the key."""


@dataclass(frozen=True)
class Count:
    """A count the documents fix (low == high) or only bound; high None: no document bounds it."""
    low: int
    high: int | None

    def __add__(self, other: Count) -> Count:
        high = None if self.high is None or other.high is None else self.high + other.high
        return Count(self.low + other.low, high)

    def less(self, n: int) -> Count:
        return Count(self.low - n, None if self.high is None else self.high - n)

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def as_yaml(self) -> int | list[int | None]:
        return self.low if self.exact else [self.low, self.high]


@dataclass(frozen=True)
class Entry:
    source: str  # file @ commit (and section) the counts are transcribed from
    what: str
    configurations: Count  # distinct configurations scored on validation
    test_reads: Count
    repeats: int = 0  # of the configurations, those an entry above in the family already scored
    wall_seconds: float | None = None  # stated wall times, summed; the note says what they cover
    cores: int | None = None  # cores each timed run or span held
    note: str = ""

    @property
    def new_configurations(self) -> Count:
        return self.configurations.less(self.repeats)

    @property
    def core_seconds(self) -> float | None:
        return None if self.wall_seconds is None or self.cores is None else self.wall_seconds * self.cores


@dataclass(frozen=True)
class Totals:
    configurations: Count  # the entries' configurations less their repeats
    test_reads: Count
    core_seconds: float  # over the entries whose wall time and cores are both stated


@dataclass(frozen=True)
class Family:
    name: str
    entries: tuple[Entry, ...]
    totals: Totals  # as the file states them; load_history checks them against the entries

    def summed(self) -> Totals:
        configurations, test_reads = Count(0, 0), Count(0, 0)
        for e in self.entries:
            configurations += e.new_configurations
            test_reads += e.test_reads
        seconds = sum(e.core_seconds for e in self.entries if e.core_seconds is not None)
        return Totals(configurations, test_reads, round(seconds, 1))

    def untimed(self) -> list[Entry]:
        """Entries whose core-seconds no document states (they are left out of the total)."""
        return [e for e in self.entries if e.core_seconds is None]


@dataclass(frozen=True)
class RecipeTestRead:
    when: str  # commit and date
    source: str
    read: str  # what was tested
    then: str  # what was chosen after it
    used_test: str  # one of USED_TEST


@dataclass(frozen=True)
class History:
    families: dict[str, Family]
    test_reads: tuple[RecipeTestRead, ...]  # the deep recipe's, in order
    path: Path


def _mapping(d: Any, keys: dict[str, Any], where: str, path: Path, optional: tuple[str, ...] = ()) -> dict:
    """d checked against keys (name -> type or tuple of types); where is the key path so far, e.g. 'families.'."""
    if not isinstance(d, dict):
        raise HistoryError(f"{path}: {where.rstrip('.') or 'the file'} must be a mapping")
    unknown = sorted(set(d) - set(keys))
    if unknown:
        raise HistoryError(f"{path}: unknown key {where}{unknown[0]}; valid: {', '.join(keys)}")
    missing = [k for k in keys if k not in d and k not in optional]
    if missing:
        raise HistoryError(f"{path}: missing key {where}{missing[0]}")
    for k, tp in keys.items():
        v = d.get(k)
        if k in d and (isinstance(v, bool) or not isinstance(v, tp)) and not (v is None and k in optional):
            names = " or ".join(t.__name__ for t in (tp if isinstance(tp, tuple) else (tp,)))
            raise HistoryError(f"{path}: {where}{k} must be {names}, got {v!r}")
    return d


def _count(v: Any, where: str, path: Path) -> Count:
    """An int >= 0, or [at least, at most] with at most >= at least or null."""
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return Count(v, v)
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and not isinstance(v[0], bool) and v[0] >= 0 \
            and (v[1] is None or isinstance(v[1], int) and not isinstance(v[1], bool) and v[1] >= v[0]):
        return Count(v[0], v[1])
    raise HistoryError(f"{path}: {where} must be a count >= 0 or [at least, at most or null], got {v!r}")


def _entry(d: Any, where: str, path: Path) -> Entry:
    _mapping(d, {"source": str, "what": str, "configurations": object, "test_reads": object, "repeats": int,
                 "wall_seconds": (int, float), "cores": int, "note": str}, where, path,
             optional=("repeats", "wall_seconds", "cores", "note"))
    e = Entry(d["source"], d["what"], _count(d["configurations"], f"{where}configurations", path),
              _count(d["test_reads"], f"{where}test_reads", path), d.get("repeats") or 0,
              None if d.get("wall_seconds") is None else float(d["wall_seconds"]), d.get("cores"), d.get("note") or "")
    if not 0 <= e.repeats <= e.configurations.low:
        raise HistoryError(f"{path}: {where}repeats must lie in 0..{e.configurations.low} (configurations at least)")
    if (e.wall_seconds is not None and e.wall_seconds < 0) or (e.cores is not None and e.cores < 1):
        raise HistoryError(f"{path}: {where}wall_seconds must be >= 0 and cores >= 1")
    return e


def _family(name: str, d: Any, path: Path) -> Family:
    where = f"families.{name}."
    _mapping(d, {"totals": dict, "entries": list}, where, path)
    t = _mapping(d["totals"], {"configurations": object, "test_reads": object, "core_seconds": (int, float)},
                 f"{where}totals.", path)
    stated = Totals(_count(t["configurations"], f"{where}totals.configurations", path),
                    _count(t["test_reads"], f"{where}totals.test_reads", path), round(float(t["core_seconds"]), 1))
    if not d["entries"]:
        raise HistoryError(f"{path}: {where}entries lists no entry")
    fam = Family(name, tuple(_entry(e, f"{where}entries[{i}].", path) for i, e in enumerate(d["entries"])), stated)
    summed = fam.summed()
    for key in ("configurations", "test_reads", "core_seconds"):
        got, want = getattr(stated, key), getattr(summed, key)
        if got != want:
            shown = want.as_yaml() if isinstance(want, Count) else want
            raise HistoryError(f"{path}: {where}totals.{key} says {t[key]!r}, but the entries add up to {shown!r}")
    return fam


def _test_read(d: Any, where: str, path: Path) -> RecipeTestRead:
    _mapping(d, {"when": str, "source": str, "read": str, "then": str, "used_test": str}, where, path)
    if d["used_test"] not in USED_TEST:
        raise HistoryError(f"{path}: {where}used_test is {d['used_test']!r}; valid: {', '.join(USED_TEST)}")
    return RecipeTestRead(d["when"], d["source"], d["read"], d["then"], d["used_test"])


def load_history(path: str | Path) -> History:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise HistoryError(f"{path}: cannot read the history: {e.strerror}") from None
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise HistoryError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    _mapping(d, {"families": dict, "test_reads": list}, "", path)
    _mapping(d["families"], {name: dict for name in FAMILIES}, "families.", path)
    families = {name: _family(name, d["families"][name], path) for name in FAMILIES}
    reads = tuple(_test_read(r, f"test_reads[{i}].", path) for i, r in enumerate(d["test_reads"]))
    return History(families, reads, path)
