"""The rules of lending a finished search's idle cores (tuning/idle_cores.py); tests/test_tuning.py runs it in a
study."""
from __future__ import annotations

import torch

from tuning.idle_cores import ThreadLoan, shares


def test_cores_are_split_evenly_in_whole_threads():
    assert shares(2, ["b", "a"]) == {"a": 1, "b": 1} and shares(3, ["b", "a"]) == {"a": 2, "b": 1}
    assert shares(4, ["a"]) == {"a": 4} and shares(1, ["a", "b"]) == {"a": 1, "b": 1}


def test_a_loan_is_kept_only_if_it_speeds_training():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        loan = ThreadLoan(1, lambda: 2)
        assert loan.after_report(1, 1000.0) == 2 and torch.get_num_threads() == 2
        # 5% faster with 2 threads is not worth a core (on a busy CPU 2 threads can be far slower): given back
        assert loan.after_report(2, 1050.0) == 1 and torch.get_num_threads() == 1
        assert loan.after_report(1, 900.0) == 1 and torch.get_num_threads() == 1  # and never taken again

        loan = ThreadLoan(1, lambda: 2)
        assert loan.after_report(1, 1000.0) == 2
        assert loan.after_report(2, 1800.0) == 2 and torch.get_num_threads() == 2  # faster: kept
        assert loan.after_report(2, 1500.0) == 2 and torch.get_num_threads() == 2  # nothing more to try

        torch.set_num_threads(1)
        assert ThreadLoan(1, lambda: None).after_report(1, 1000.0) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
