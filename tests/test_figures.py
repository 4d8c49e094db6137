"""Every figure of the report and the docs is legible, as read from matplotlib's drawn artists (no point inside a
legend, no legend over another or over tick labels, no tick labels running together, numeric axes labelled with
3 tick labels or more, validation and test never on one axis), and the check itself catches each fault."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import planted  # noqa: E402
import pytest  # noqa: E402

from analysis import load_study  # noqa: E402
from analysis.load import load_confirmation  # noqa: E402
from analysis.present import figures as F  # noqa: E402
from analysis.present.figures.forest import forest_plot  # noqa: E402
from analysis.present.legibility import problems  # noqa: E402
from analysis.stats import comparisons as C  # noqa: E402
from analysis.stats.cross import confirmed_cross  # noqa: E402
from analysis.stats.headline import headline_table  # noqa: E402
from analysis.stats.importance import param_importance  # noqa: E402
from analysis.stats.paired import confirmed_tables  # noqa: E402


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    return {"planted": load_study(planted.build(root / "p.db")),
            "conditioned": load_study(planted.build_conditioned(root / "c.db")),
            "headline": load_study(planted.build_headline(root / "h.db")),
            "classical_full": load_study(planted.build_classical(root / "cf.db", name="classical_full",
                                                                 data_fraction=1.0, shift=0.03, budget="full")),
            "aug_size": load_study(planted.build_aug_size(root / "a.db")),
            "scaling": load_study(planted.build_scaling(root / "s.db", lambda n: 20.0 * n ** -0.5, confirm_seeds=3,
                                                        confirm_widths=(8, 16, 32, 64)))}


def every_figure(studies) -> dict:
    """The figures the report and the docs draw, on planted studies."""
    out = {}
    for key in ("planted", "conditioned"):
        s = studies[key]
        for p in s.scientific():
            out[f"{key} ablation {p}"] = F.ablation_plot(s, p)
            out[f"{key} expected best {p}"] = F.evp_plot(s, p)
        out.update({f"{key} main comparison": F.main_comparison_plot(s), f"{key} axis plots": F.axis_plots(s),
                    f"{key} learning curves": F.learning_curves(s),
                    f"{key} importance": F.importance_plot(param_importance(s)),
                    f"{key} search efficiency": F.search_efficiency(s), f"{key} strength": F.strength_plot(s),
                    f"{key} parallel coordinates": F.parallel_coordinates(s)})
    arms, runs = load_confirmation(studies["headline"])
    tables = confirmed_tables(arms, runs)
    comps = C.from_confirmed("headline", tables, arms, runs)
    for param, df in tables.items():
        out[f"confirmed {param}"] = F.confirmed_plot(df)
    headline = headline_table(studies["headline"], studies["classical_full"])
    out["headline levels"] = F.headline_plot(headline)
    cross = confirmed_cross(*load_confirmation(studies["aug_size"]))
    out["cross"] = F.cross_plot(cross)
    out["scaling"] = F.scaling_plot(studies["scaling"])
    out["forest"] = forest_plot(C.from_headline(headline, "headline") + comps + C.from_cross(cross, "aug_size"),
                                "every comparison")
    return out


def test_every_figure_is_legible(studies):
    figures = every_figure(studies)
    assert len(figures) >= 25 and all(fig is not None for fig in figures.values())
    found = {name: problems(fig) for name, fig in figures.items()}
    plt.close("all")
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_fits_are_drawn_as_the_table_reads_them(studies):
    """Measured fits are solid; an exploratory fit is dashed and says so; the pure law beside a fit whose floor is
    not identified is dotted and exploratory."""
    fig = F.scaling_plot(studies["scaling"])
    fits = [(line.get_linestyle(), line.get_label()) for ax in fig.axes for line in ax.get_lines()
            if line.get_label().startswith(("fit", "pure law"))]
    assert fits
    for style, label in fits:
        assert ("exploratory" in label) == (style in ("--", ":")), (style, label)
    assert any(style == "--" for style, _ in fits)  # the planted law has no floor: its fits are exploratory
    plt.close("all")


def _figure(**kw):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(range(10), range(10), "o", label="points")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return fig, ax


def test_the_check_catches_each_fault():
    fig, ax = _figure()
    assert problems(fig) == []
    ax.legend(loc="center")  # over the points at the centre
    assert any("inside a legend" in p for p in problems(fig))
    fig, ax = _figure()
    ax.set_ylabel("")
    assert any("numeric y axis without a label" in p for p in problems(fig))
    fig, ax = _figure()
    ax.set_xticks([0, 9])
    assert any("numeric x axis with 2 tick label(s)" in p for p in problems(fig))
    fig, ax = _figure()
    ax.plot([], [], label="validation accuracy")
    ax.plot([], [], label="test accuracy")
    assert any("validation and test share this axis" in p for p in problems(fig))
    fig, ax = _figure()
    ax.set_xticks(range(10), [f"a long label {i}" for i in range(10)])
    assert any("run into each other" in p for p in problems(fig))
    fig, ax = _figure()
    ax.legend(["a"], loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the axes, clear of the points
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    fig.legend(["b"], loc="upper left", bbox_to_anchor=fig.transFigure.inverted().transform((box.x0 + 2, box.y1 - 2)))
    assert problems(fig) == ["legends 0 and 1 overlap"]
    plt.close("all")
