"""From the trial database to the experiments write-up, by stage:

- load/: a study's tables as tidy DataFrames (analysis.load.load_study);
- stats/: the search's tables, the confirmation's paired comparisons, crosses, the headline, scaling fits, checks;
- present/: numbers as text, tables as Markdown and LaTeX, figures;
- writeup/: the per-study report and the cross-study docs;
- templates/: every sentence of the notes and the write-up (Jinja2), rendered by present/words.py with the numbers
  passed in.

Functions take a Study (tidy DataFrames) and return DataFrames or figures; writing files is the write-up's job.
The notebook in analysis/notebooks/ calls the same functions as `python -m analysis report`.
"""
from .load import AnalysisError, Study, list_studies, load_study  # noqa: F401
