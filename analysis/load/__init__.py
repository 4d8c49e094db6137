"""Load: a study's trials, epochs, final evaluations and confirmation runs from its trial database, as tidy
DataFrames (a plain Optuna study's too); and the record of what was scored before the planned study
(results/history.yaml)."""
from .history import History, HistoryError, load_history  # noqa: F401
from .study import AnalysisError, Study, list_studies, load_confirmation, load_study  # noqa: F401
