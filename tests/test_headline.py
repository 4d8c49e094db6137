"""The headline table: equal data for every row, the augmentation strength chosen on validation, deep rows paired
with the CNN without augmentation, the classical row by its own interval; unequal data is refused."""
import math

import planted
import pytest

from analysis.present.figures import headline_plot
from analysis.present.tables import formatted_headline
from analysis.stats.headline import HeadlineError, headline_table
from analysis.load import load_study


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("headline")
    deep = load_study(planted.build_headline(root / "headline.db"))
    classical = load_study(planted.build_classical(root / "classical_full.db", name="classical_full",
                                                   data_fraction=1.0, shift=0.03, budget="full"))
    small = load_study(planted.build_classical(root / "classical.db"))
    return deep, classical, small


def test_rows_choose_on_validation_and_pair_with_the_cnn_without_augmentation(studies):
    deep, classical, _ = studies
    t = headline_table(deep, classical)
    rows = {r["row"]: r for r in t.to_dict("records")}
    assert list(rows) == ["best classical pipeline", "CNN without augmentation", "CNN with augmentation", "MLP"]
    assert set(t["training images"]) == {55_000} and t.attrs["images"] == 55_000
    # 0.5 is best on validation and 1.0 on test: validation chooses
    assert rows["CNN with augmentation"]["configuration"].startswith("cnn, aug_strength 0.5 (best on validation")
    aug = rows["CNN with augmentation"]
    assert aug["seeds"] == 3 and aug["diff_mean"] == pytest.approx(0.010, abs=0.002)
    assert aug["diff_low"] > 0 and aug["verdict"] == "better than the CNN without augmentation"
    mlp = rows["MLP"]
    assert mlp["diff_high"] < 0 and mlp["verdict"] == "worse than the CNN without augmentation"
    # the classical row: the pipeline best on validation, its own seeds, no paired difference
    c = rows["best classical pipeline"]
    assert c["seeds"] == 2 and math.isnan(c["diff_mean"]) and "own interval" in c["verdict"]
    assert c["epochs"] == "one fit" and c["family"] == "classical"
    shown = formatted_headline(t)
    assert shown.loc[2, "difference to CNN without augmentation (points)"].startswith("+1.0")
    assert "(n=3)" in shown.loc[1, "test acc (%)"] and shown.loc[1, "training images"] == "55,000"
    # McNemar on the test images: the planted masks differ only between their counts, all one way, so the exact
    # p is 2 * 0.5 ** (difference in correct images); the classical row pairs its i-th seed with the CNN's i-th
    mcn = shown["McNemar p (test images)"]
    assert mcn[0].startswith("per seed pair, i-th with i-th: ") and len(mcn[0].split(": ")[1].split(", ")) == 2
    # with the discordant images, which way: the MLP is worse, so only the baseline got them right
    assert mcn[1] == "—" and mcn[3].startswith("per seed: <0.001 (0 vs ") and mcn[3].count("<0.001 (0 vs ") == 3
    assert rows["CNN with augmentation"]["mcnemar_p"][0] == pytest.approx(
        2 * 0.5 ** abs(round(aug["test_per_seed"][0] * 10_000) - round(t.iloc[1]["test_per_seed"][0] * 10_000)))
    # compute beside accuracy: each row's wall time per run, from its runs (the planted deep runs took 100 s)
    assert shown.loc[1, "wall time per run (s)"] == "100 [100, 100]"
    assert "searching the classifiers logreg, svm_rbf, a small search" in t.attrs["note"]  # what it chose among
    assert "(2 distinct configurations of model, aug_strength; no nuisance parameter tuned" in t.attrs["note"]
    assert "Wall time per run" in t.attrs["note"] and "1 CPU per run, up to" in t.attrs["note"]
    # training accuracy beside test: the rows that ended short of fitting are named, with the length they ran
    assert list(shown["train acc (%)"]) == ["—", "99.6", "96.0", "93.0"]
    assert ("Below 99%: the CNN with augmentation (96.0%); the MLP (93.0%). These runs had not fitted their training "
            "images at this length (10 epochs)") in t.attrs["note"]


def test_every_setting_of_each_row_is_listed(studies):
    from analysis.stats.headline import configuration_tables

    deep, classical, _ = studies
    (settings,) = configuration_tables(headline_table(deep, classical))  # planted classical runs stored no config
    by = settings.set_index("setting")
    assert list(by.columns) == ["CNN without augmentation", "CNN with augmentation", "MLP"]
    assert list(by.loc["model"]) == ["cnn", "cnn", "mlp"] and list(by.loc["aug_strength"]) == ["0", "0.5", "0.5"]
    assert by.loc["cnn.width", "CNN without augmentation"] == "32" and by.loc["cnn.width", "MLP"] == "—"
    assert "seed" not in by.index and "model_kwargs" not in by.index


def test_unequal_data_is_refused(studies, tmp_path):
    deep, _, small = studies
    with pytest.raises(HeadlineError, match="never compares unequal data"):
        headline_table(deep, small)
    mixed = load_study(planted.build_headline(tmp_path / "h.db", confirm_fraction=0.5))
    t = headline_table(mixed, None)
    assert set(t["training images"]) == {27_500} and "No classical study" in t.attrs["note"]


def test_figure_has_a_point_per_row(studies):
    deep, classical, _ = studies
    fig = headline_plot(headline_table(deep, classical))
    ax = fig.axes[0]
    assert len(ax.get_xticklabels()) == 4 and len([c for c in ax.containers]) == 4  # one error bar per row


def test_classical_row_is_compared_by_an_unpaired_welch_interval():
    from analysis.stats.headline import _unpaired

    base = [0.940, 0.945, 0.950]
    worse = _unpaired({"verdict": ""}, [0.920, 0.925, 0.930], base)
    assert worse["diff_mean"] == pytest.approx(-0.020) and worse["diff_high"] < 0 and worse["unpaired"]
    assert worse["verdict"] == "worse than the CNN without augmentation (unpaired: Welch interval)"
    # equal variances and n: Welch's degrees of freedom are 4, the interval t(0.975, 4) x sqrt(2 var / 3)
    assert worse["diff_high"] - worse["diff_mean"] == pytest.approx(2.776 * (2 * 0.005 ** 2 / 3) ** 0.5, rel=1e-3)
    same = _unpaired({"verdict": ""}, [0.941, 0.944, 0.950], base)
    assert same["diff_low"] < 0 < same["diff_high"] and same["verdict"].startswith("inconclusive")
