"""The Ray Tune + Optuna driver. Only `trainable`, `callbacks` and `run` import Ray; `db` and `budgets` do not,
so the analysis package can read the trial database without Ray."""
