"""Writes experiments.ipynb beside this file (kept as code so the notebook stays reviewable in diffs)."""
from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# Experiments, step by step\n\nThe same analysis as `python -m analysis report`, one function at a time. "
        "Point `GANRATOR_DB` at a trial database (default: the `make run` study)."),
    nbf.v4.new_code_cell(
        "%matplotlib inline\nimport os\n\nimport matplotlib.pyplot as plt\nfrom IPython.display import Markdown, display\n\n"
        "from analysis import load_study\nfrom analysis.present import figures as F\n"
        "from analysis.present.tables import formatted, to_markdown\n"
        "from analysis.stats.checks import study_warnings\nfrom analysis.stats.importance import param_importance\n"
        "from analysis.stats.search import ablation_table, leaderboard, main_comparison\n\n"
        "db = os.environ.get('GANRATOR_DB', '../../runs/cnn_aug/trials.db')\n"
        "study = load_study(db, os.environ.get('GANRATOR_STUDY'))\n"
        "print(study.name, len(study.trials), 'trials;', study.trials['status'].value_counts().to_dict())"),
    nbf.v4.new_markdown_cell("## Trials and epochs as tidy DataFrames"),
    nbf.v4.new_code_cell("study.trials[['trial_id', 'status', 'epochs', 'best_val_acc', 'last_val_acc'] + "
                         "['p:' + p for p in study.params]].head(10)"),
    nbf.v4.new_markdown_cell("## Leaderboard and main comparison"),
    nbf.v4.new_code_cell("display(Markdown(to_markdown(formatted(leaderboard(study, k=5)))))\n"
                         "display(Markdown(to_markdown(formatted(main_comparison(study)))))"),
    nbf.v4.new_markdown_cell("## Ablations of the scientific hyperparameters (isolation)"),
    nbf.v4.new_code_cell("for p in study.scientific():\n    table = ablation_table(study, p)\n"
                         "    display(Markdown(f'### {p}\\n\\n' + table.attrs['note'] + '\\n\\n' + "
                         "to_markdown(formatted(table))))\n    fig = F.isolation_plot(study, p)\n"
                         "    if fig is not None:\n        display(fig)\n        plt.close(fig)"),
    nbf.v4.new_markdown_cell("## Importance, learning curves, search efficiency"),
    nbf.v4.new_code_cell("param_importance(study)"),
    nbf.v4.new_code_cell("for make in (F.learning_curves, F.search_efficiency, F.strength_plot):\n"
                         "    fig = make(study)\n    if fig is not None:\n        display(fig)\n        plt.close(fig)"),
    nbf.v4.new_markdown_cell("## Warnings"),
    nbf.v4.new_code_cell("study_warnings(study) or 'none'"),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
nbf.write(nb, Path(__file__).with_name("experiments.ipynb"))
