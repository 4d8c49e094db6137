"""results/history.yaml, the record of what was scored before the planned study: the committed file loads, its totals
are what its entries add up to, the commits it cites exist, and a malformed copy fails in one line naming the key."""
from __future__ import annotations

import copy
import re
import subprocess

import pytest
import yaml

from analysis.load.history import FAMILIES, HistoryError, load_history
from tests.conftest import ROOT

PATH = ROOT / "results" / "history.yaml"
RAW = yaml.safe_load(PATH.read_text())


def _bounds(v) -> tuple[int, int | None]:
    return (v, v) if isinstance(v, int) else tuple(v)


def test_the_committed_history_loads_with_both_families_and_the_recipe_reads():
    h = load_history(PATH)
    assert set(h.families) == set(FAMILIES)
    assert all(fam.entries for fam in h.families.values())
    assert h.test_reads and all(r.read and r.then for r in h.test_reads)
    # every test read of the recipe's history is counted in the deep family's entries
    assert h.families["deep"].totals.test_reads.low >= len(h.test_reads)


def test_the_totals_are_what_the_entries_add_up_to():
    """Recomputed here from the raw file, apart from the loader's arithmetic."""
    h = load_history(PATH)
    for name in FAMILIES:
        entries = RAW["families"][name]["entries"]
        lows, highs, t_lows, t_highs, seconds = [], [], [], [], 0.0
        for e in entries:
            lo, hi = _bounds(e["configurations"])
            r = e.get("repeats", 0)
            lows.append(lo - r)
            highs.append(None if hi is None else hi - r)
            tlo, thi = _bounds(e["test_reads"])
            t_lows.append(tlo)
            t_highs.append(thi)
            if e.get("wall_seconds") is not None and e.get("cores") is not None:
                seconds += e["wall_seconds"] * e["cores"]
        want_conf = (sum(lows), None if None in highs else sum(highs))
        want_reads = (sum(t_lows), None if None in t_highs else sum(t_highs))
        totals = h.families[name].totals
        assert (totals.configurations.low, totals.configurations.high) == want_conf
        assert (totals.test_reads.low, totals.test_reads.high) == want_reads
        assert totals.core_seconds == pytest.approx(seconds, abs=0.05)
        assert h.families[name].summed() == totals


def test_a_total_that_disagrees_with_its_entries_fails_naming_it(tmp_path):
    d = copy.deepcopy(RAW)
    first = d["families"]["classical"]["entries"][0]
    lo, hi = _bounds(first["test_reads"])
    first["test_reads"] = [lo, hi + 1]  # one more read, the stated total left as it was
    bad = tmp_path / "history.yaml"
    bad.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(HistoryError) as e:
        load_history(bad)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg and "families.classical.totals.test_reads" in msg


def _mutate(d, how):
    entry = d["families"]["deep"]["entries"][0]
    if how == "unknown key":
        entry["cpu_seconds"] = 12
    elif how == "mistyped count":
        entry["configurations"] = "many"
    elif how == "missing key":
        del entry["what"]
    elif how == "bounds reversed":
        entry["test_reads"] = [9, 3]
    elif how == "unknown family":
        d["families"]["hybrid"] = d["families"]["deep"]
    elif how == "bad used_test":
        d["test_reads"][0]["used_test"] = "maybe"
    return d


@pytest.mark.parametrize("how, key", [
    ("unknown key", "families.deep.entries[0].cpu_seconds"),
    ("mistyped count", "families.deep.entries[0].configurations"),
    ("missing key", "families.deep.entries[0].what"),
    ("bounds reversed", "families.deep.entries[0].test_reads"),
    ("unknown family", "families.hybrid"),
    ("bad used_test", "test_reads[0].used_test"),
])
def test_a_malformed_file_fails_in_one_line_naming_the_file_and_key(tmp_path, how, key):
    bad = tmp_path / "history.yaml"
    bad.write_text(yaml.safe_dump(_mutate(copy.deepcopy(RAW), how), sort_keys=False))
    with pytest.raises(HistoryError) as e:
        load_history(bad)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg and key in msg


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def test_every_commit_the_history_cites_exists():
    probe = _git("rev-parse", "--is-shallow-repository")
    if probe.returncode != 0 or probe.stdout.strip() != "false":
        pytest.skip("needs a full git checkout to look the cited commits up")
    text = PATH.read_text()
    cited = sorted(set(re.findall(r"(?<![0-9a-f])[0-9a-f]{7}(?![0-9a-f])", text)))
    assert len(cited) > 20
    missing = [c for c in cited if _git("cat-file", "-e", f"{c}^{{commit}}").returncode != 0]
    assert not missing, f"cited commits not in this repository: {missing}"
