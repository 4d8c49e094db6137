"""From the trial database to ablation tables, figures and the experiments report.

Functions take a Study (tidy DataFrames) and return DataFrames or figures; writing files is `report`.
The notebook in analysis/notebooks/ calls the same functions as `python -m analysis report`.
"""
from .load import AnalysisError, Study, list_studies, load_study  # noqa: F401
