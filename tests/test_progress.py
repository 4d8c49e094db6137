"""The driver's progress line: its ETA reads the pace of the trials this driver ran, also after a resume."""
import re
import time
from types import SimpleNamespace

from tuning.callbacks import Progress


def _trials(done: int, running: int) -> list:
    ended = [SimpleNamespace(status="TERMINATED", last_result={"val_acc": 0.8}, trial_id=f"t{i}") for i in range(done)]
    return ended + [SimpleNamespace(status="RUNNING", last_result={}, trial_id=f"r{i}") for i in range(running)]


def _eta_seconds(line: str) -> float:
    hours = re.search(r"ETA (\d+)h(\d+)m", line)  # tuning.retrain.duration: 1h40m, or 12m05s under an hour
    if hours:
        return 3600 * int(hours[1]) + 60 * int(hours[2])
    m = re.search(r"ETA (\d+)m(\d+)s", line)
    assert m, line
    return 60 * int(m[1]) + int(m[2])


def test_a_resumed_study_s_eta_counts_only_the_trials_this_driver_ended():
    progress = Progress(num_samples=30, time_budget_s=None)
    progress.setup()
    assert "ETA ?" in progress.line(_trials(19, 2))  # resumed with 19 ended before: no pace measured yet
    progress.t0 = time.time() - 600  # 10 minutes later, one more trial has ended
    line = progress.line(_trials(20, 2))
    assert "20/30 done" in line
    # 10 trials left at this driver's pace of one per 600 s, not at 600 s / 20 ended trials
    assert abs(_eta_seconds(line) - 6000) < 60, line
