"""The write-up's glossary: the terms its tables use, with the numbers read from the studies and the trainer's
defaults (never typed)."""
from __future__ import annotations

from ganrator.data import COUNTS
from ganrator.recipe import TrainConfig

from ..load import Study
from ..stats.scaling import train_size


def terms_section(studies: list[Study]) -> list[str]:
    val_sizes = sorted({int((s.meta.get("budget") or {}).get("val_size") or 5000) for s in studies})
    recipe = TrainConfig()
    images = ", ".join(f"{train_size({'data_fraction': 1.0, 'val_size': v}):,}" for v in val_sizes)
    return ["", "## Terms", "",
            f"- **Validation set**: {' or '.join(f'{v:,}' for v in val_sizes)} of the {COUNTS['train']:,} "
            f"Fashion-MNIST training images, held out stratified by class with one fixed seed, the same for every "
            f"run; the other {images} are the training split, and a *data fraction* is a stratified share of it. "
            f"The {COUNTS['test']:,} test images are read only to report, after every choice is made.",
            "- **Scientific, nuisance, fixed** parameters (the Deep Learning Tuning Playbook's terms): a study "
            "measures the effect of its scientific parameters; nuisance parameters (learning rate, weight decay, ...) "
            "are tuned for each scientific value so that values are compared at their best; fixed ones stay put.",
            "- **Search**: Optuna proposes trials, TPE (a model of good and bad trials), QMC (a quasi-random sequence "
            "that covers the space evenly) or random. **ASHA** stops trials early: at each *rung* (an epoch count, "
            "the first after the *grace period* epochs, then growing by the *reduction factor*) it lets only the top "
            "1/reduction-factor continue. **FIFO** runs every trial to its end. *Calibration trials* are recorded "
            "at every rung but never stopped, so the *fidelity* of early stopping (does a rung rank trials as their "
            "last epoch does?) can be checked.",
            "- **Isolation** of a scientific value: the best validation accuracy over the trials with that value, "
            "the nuisance parameters tuned away; a *slice* holds the other scientific parameters at the values of "
            "the validation-selected trial.",
            "- **Confirmation**: the configurations the search proposes, retrained without early stopping on fresh "
            "seeds shared by every arm (a seed sets the initialisation, the batch order and the augmentation "
            "draws), so arms pair seed by seed; it decides, the search only proposes.",
            f"- **aug_strength** s scales the augmentation of a run: horizontal flip with probability "
            f"{recipe.aug_flip:g} x s and a random translation of up to {recipe.aug_translate:g} x s pixels (the "
            f"spaces here use these two; s = 0 is none).",
            "- **Classical pipelines**: descriptors (HOG, histograms of oriented gradients; LBP, local binary "
            "patterns; raw pixels), concatenated, optionally reduced by PCA, then a classifier. *hog_cell2* adds a "
            "second, coarser HOG with cells of that many pixels (0: none).",
            "- **Verdicts** read a 95% interval: \"better\" or \"worse\" when it excludes 0, \"no significant "
            "difference\" when it holds 0, which with few seeds is inconclusive rather than evidence of no effect."]
