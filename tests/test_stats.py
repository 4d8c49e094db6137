"""How accuracies with their intervals are written."""
from analysis.present.text import fmt_pct, pct_text
from analysis.stats.intervals import mean_ci


def test_seeds_that_agree_exactly_are_not_given_a_zero_width_interval():
    mean, half, n = mean_ci([0.8776, 0.8776, 0.8776])  # a deterministic pipeline: its seeds change nothing
    assert fmt_pct(mean, half, n) == "87.76, identical over seeds (n=3)"
    assert pct_text(mean, half, n) == "87.76%, identical over seeds (n = 3)"
    mean, half, n = mean_ci([0.8776, 0.8780, 0.8772])
    assert fmt_pct(mean, half, n).startswith("87.76 ± 0.") and fmt_pct(mean, half, n).endswith("(n=3)")
    assert fmt_pct(0.9, float("nan"), 1) == "90.00 ± — (n=1)"


def test_the_power_table_words_a_verdict_as_the_comparison_tables_do():
    # a conclusive interval that Holm's adjustment takes back is not a plain "worse" anywhere
    from analysis.present.tables import power_table
    from analysis.stats.comparisons import Comparison

    def comparison(p_holm):
        return Comparison("other", "s", "model", "model = resnet", "model = mlp", diff=-0.0152, low=-0.0297,
                          high=-0.0008, n=3, se=0.0034, dof=2, p_holm=p_holm)

    verdicts = power_table([comparison(0.091), comparison(0.01), comparison(float("nan"))])["verdict"].tolist()
    assert verdicts == ["worse, not after Holm", "worse", "worse"]
