"""Load: a study's trials, epochs, final evaluations and confirmation runs from its trial database, as tidy
DataFrames (a plain Optuna study's too)."""
from .study import AnalysisError, Study, list_studies, load_confirmation, load_study  # noqa: F401
